#!/usr/bin/env bash
# status shows every service running with the deployed release and no drift; drift
# appears when a deployed file is edited on a node; logs merge every node's journal.
source "$(dirname "$0")/lib.sh"
require_env

run_helper 0 "$WORK/status.log" status --plan "$CLUSTER_DEPLOY_PLAN"
while read -r node group; do
  release=$(on_node "$node" "readlink /opt/$CLUSTER_DEPLOY_NAME/current")
  grep -qE "^$node +[a-z]+ +active \(running\) +[0-9]+ +[0-9]+[smh] +[0-9]+ +(-|[0-9]+ \([a-z-]+\)) +${release##*/} +none +- +(-|member)$" "$WORK/status.log" ||
    fail "$node: status row does not show a running service on release ${release##*/}"
done < <(all_nodes)

run_helper 0 "$WORK/servers.log" status --plan "$CLUSTER_DEPLOY_PLAN" --group servers
if grep -E "^($(nodes_in_group workers | paste -sd'|')) " "$WORK/servers.log"; then fail "--group servers shows workers"; fi
[[ $(grep -c ' active (running) ' "$WORK/servers.log") -eq $(nodes_in_group servers | wc -l) ]] || fail "--group servers misses servers"

while read -r node group; do
  service=$([[ $group == servers ]] && echo etcd || echo worker)
  user=$(on_node "$node" "ps -o user= -p \$(systemctl show -p MainPID --value $CLUSTER_DEPLOY_NAME-$service.service)")
  [[ "$user" == "$CLUSTER_DEPLOY_NAME" ]] || fail "$node: $service runs as '$user', expected the non-root user $CLUSTER_DEPLOY_NAME"
done < <(all_nodes)

worker=$(nodes_in_group workers | head -n 1)
conf=/opt/$CLUSTER_DEPLOY_NAME/current/etc/worker/worker.conf
# The deploy recorded how its files looked (activate.sh), so status reads no file that still
# looks so. A byte changed in place, with size and modification time put back as they were
# (touch -r), still shows: the change time tells.
on_node "$worker" "sudo test -s /opt/$CLUSTER_DEPLOY_NAME/current/.stat" ||
  fail "$worker: the deploy recorded no stat lines of its release (status would hash every file)"
on_node "$worker" "sudo sh -c 'cp -p $conf /tmp/worker.conf.saved && printf \~ | dd of=$conf bs=1 count=1 conv=notrunc status=none &&
  touch -r /tmp/worker.conf.saved $conf && if cmp -s $conf /tmp/worker.conf.saved; then echo unchanged; fi'" >"$WORK/flip.log"
[[ ! -s $WORK/flip.log ]] || fail "$worker: worker.conf starts with ~ already: the in-place edit changed nothing"
"$CLUSTER_DEPLOY" status --plan "$CLUSTER_DEPLOY_PLAN" --node "$worker" >"$WORK/drift-in-place.log" 2>&1 || true
on_node "$worker" "sudo cp -p /tmp/worker.conf.saved $conf"
grep -q "^drift: $worker: etc/worker/worker.conf differs from what was deployed$" "$WORK/drift-in-place.log" ||
  fail "a byte changed in place (size and modification time as deployed) is not shown as drift"

on_node "$worker" "sudo cp $conf /tmp/worker.conf.saved && echo '# edited by hand' | sudo tee -a $conf >/dev/null"
"$CLUSTER_DEPLOY" status --plan "$CLUSTER_DEPLOY_PLAN" --node "$worker" >"$WORK/drift.log" 2>&1 || true
on_node "$worker" "sudo cp /tmp/worker.conf.saved $conf"
grep -q "^drift: $worker: etc/worker/worker.conf differs from what was deployed$" "$WORK/drift.log" || fail "drift not shown"

run_helper 0 "$WORK/logs.log" logs --plan "$CLUSTER_DEPLOY_PLAN" --lines 5
while read -r node group; do
  grep -q "^$node | " "$WORK/logs.log" || fail "no log line from $node"
done < <(all_nodes)
if grep -vE '^[A-Za-z0-9._-]+ \| ' "$WORK/logs.log"; then fail "a log line without its node"; fi
run_helper 0 "$WORK/future.log" logs --plan "$CLUSTER_DEPLOY_PLAN" --since "2099-01-01"
[[ ! -s "$WORK/future.log" ]] || fail "logs --since a future date printed lines"

code=0
timeout 10 "$CLUSTER_DEPLOY" logs --plan "$CLUSTER_DEPLOY_PLAN" --group workers --follow --lines 1 >"$WORK/follow.log" 2>&1 || code=$?
[[ $code -eq 124 ]] || fail "logs --follow ended by itself (exit $code)"
while read -r node; do
  [[ $(grep -c "^$node | " "$WORK/follow.log") -ge 2 ]] || fail "logs --follow did not stream new lines from $node"
done < <(nodes_in_group workers)
say "status and logs cover every node; drift detected"
