#!/usr/bin/env bash
# status shows every service running with the deployed release and no drift; drift
# appears when a deployed file is edited on a node; logs merge every node's journal.
source "$(dirname "$0")/lib.sh"
require_env

run_helper 0 "$WORK/status.log" status --plan "$CLUSTER_DEPLOY_PLAN"
while read -r node group; do
  release=$(on_node "$node" "readlink /opt/$CLUSTER_DEPLOY_NAME/current")
  grep -qE "^$node +[a-z]+ +active \(running\) +[0-9]+ +[0-9]+[smh] +[0-9]+ +${release##*/} +none$" "$WORK/status.log" ||
    fail "$node: status row does not show a running service on release ${release##*/}"
done < <(all_nodes)

worker=$(nodes_in_group workers | head -n 1)
conf=/opt/$CLUSTER_DEPLOY_NAME/current/etc/worker/worker.conf
on_node "$worker" "sudo cp $conf /tmp/worker.conf.saved && echo '# edited by hand' | sudo tee -a $conf >/dev/null"
"$CLUSTER_DEPLOY" status --plan "$CLUSTER_DEPLOY_PLAN" --node "$worker" >"$WORK/drift.log" 2>&1 || true
on_node "$worker" "sudo cp /tmp/worker.conf.saved $conf"
grep -q "^drift: $worker: etc/worker/worker.conf differs from what was deployed$" "$WORK/drift.log" || fail "drift not shown"

run_helper 0 "$WORK/logs.log" logs --plan "$CLUSTER_DEPLOY_PLAN" --lines 5
while read -r node group; do
  grep -q "^$node | " "$WORK/logs.log" || fail "no log line from $node"
done < <(all_nodes)
if grep -vE '^[A-Za-z0-9._-]+ \| ' "$WORK/logs.log"; then fail "a log line without its node"; fi
say "status and logs cover every node; drift detected"
