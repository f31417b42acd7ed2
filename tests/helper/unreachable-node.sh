#!/usr/bin/env bash
# A node that cannot be reached stops the deploy before any node is changed (exit 2, a line
# naming it); left out with --node, it holds nothing back. The unreachable node is
# 127.0.0.1 port 1 (nothing listens there).
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

before=$(fingerprints)
run_helper 2 "$WORK/deploy.log" deploy --plan "$variant" --node "ghost,$worker"
grep -qE '^ghost: .*(refused|connect)' "$WORK/deploy.log" || fail "no line names ghost as unreachable"
grep -q "nothing was changed on any node" "$WORK/deploy.log" || fail "the refusal does not say that nothing changed"
[[ "$(fingerprints)" == "$before" ]] || fail "$worker was changed although the deploy was refused"

run_helper 0 "$WORK/without.log" deploy --plan "$variant" --node "$worker"
on_node "$worker" "systemctl is-active $CLUSTER_DEPLOY_NAME-worker.service" >/dev/null || fail "$worker's worker is not active"

# Put the worker back on the real inventory's config.
run_helper 0 "$WORK/back.log" deploy --plan "$CLUSTER_DEPLOY_PLAN" --node "$worker"
say "ghost stopped the deploy before any change; without it $worker deployed"
