#!/usr/bin/env bash
# A node that cannot be reached fails only itself: the others are deployed and the
# summary names it. The unreachable node is 127.0.0.1 port 1 (nothing listens there).
source "$(dirname "$0")/lib.sh"
require_env

inventory=$(plan_attr 'r.get("inventory")')
mkdir -p "$WORK/inventory"
cp "$inventory"/*.txt "$WORK/inventory/"
worker=$(nodes_in_group workers | head -n 1)
[[ -n "$worker" ]] || fail "no worker in the inventory"
vars=$(awk -v n="$worker" -F'[: ]' '$1 == n { $1 = ""; $2 = ""; print }' "$inventory/workers.txt")
echo "ghost:127.0.0.1 port=1 $vars" >>"$WORK/inventory/workers.txt"
variant=$(plan_variant ghost --inventory "$WORK/inventory")

run_helper 1 "$WORK/deploy.log" deploy --plan "$variant" --node "ghost,$worker"
grep -qE '^ghost +- +connect +FAILED: .*(refused|connect)' "$WORK/deploy.log" || fail "the summary does not name ghost as failed"
grep -qE "^$worker +worker +[a-z]+ +ok" "$WORK/deploy.log" || fail "$worker was not deployed"
on_node "$worker" "systemctl is-active $CLUSTER_DEPLOY_NAME-worker.service" >/dev/null || fail "$worker's worker is not active"

# Put the worker back on the real inventory's config.
run_helper 0 "$WORK/back.log" deploy --plan "$CLUSTER_DEPLOY_PLAN" --node "$worker"
say "ghost failed alone; $worker deployed"
