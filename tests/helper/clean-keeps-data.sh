#!/usr/bin/env bash
# clean removes units, releases and the node scripts but keeps the services' data; a deploy after it
# brings the cluster back with the data intact (its units installed anew, enabled, none asking
# for a reload), and takes the lock without reading ahead (clean took the nodes out of the build
# tree's deployed.txt).
source "$(dirname "$0")/lib.sh"
require_env

server=$(nodes_in_group servers | head -n 1)
key=$(unique_test_key clean)
etcd_put "$server" "$key" kept
run_helper 0 "$WORK/clean.log" clean --plan "$CLUSTER_DEPLOY_PLAN"
while read -r node group; do
  on_node "$node" "test ! -e /opt/$CLUSTER_DEPLOY_NAME && ! ls /etc/systemd/system/$CLUSTER_DEPLOY_NAME-*.service 2>/dev/null" ||
    fail "$node: clean left releases or units behind"
  on_node "$node" "test ! -e /run/cluster-deploy/scripts" || fail "$node: clean left the node scripts behind"
  on_node "$node" "test -d /var/lib/$CLUSTER_DEPLOY_NAME" || fail "$node: clean removed the data"
done < <(all_nodes)

run_helper 0 "$WORK/deploy.log" deploy --plan "$CLUSTER_DEPLOY_PLAN"
# The deploy installed every unit anew, without a reload where systemd needs none: each unit
# runs from its file, is enabled for the next boot, and asks for no reload (systemd 254 and
# later count a new enable link as a change; `systemctl status` would warn).
while read -r node group; do
  for unit in $(on_node "$node" "cd /etc/systemd/system && ls $CLUSTER_DEPLOY_NAME-*.service"); do
    [[ "$(on_node "$node" "systemctl show -p NeedDaemonReload --value $unit")" == no ]] ||
      fail "$node: $unit asks for a daemon-reload after the deploy"
    on_node "$node" "systemctl is-enabled -q $unit && systemctl is-active -q $unit" ||
      fail "$node: $unit is not enabled and running after the deploy"
  done
done < <(all_nodes)
# clean forgot what this build tree deployed: the deploy after it locks without reading first.
run_helper 0 "$WORK/runs.log" runs --plan "$CLUSTER_DEPLOY_PLAN" --last 1
run=$(awk '$2 == "deploy" && $5 == "exit" && $6 == 0 { print $3 }' "$WORK/runs.log")
[[ -n $run ]] || fail "runs does not show the deploy after clean"
run_helper 0 "$WORK/steps.log" runs --plan "$CLUSTER_DEPLOY_PLAN" --run "$run"
if grep -E "reading the node, its lock not taken" "$WORK/steps.log"; then
  fail "the deploy after clean read the nodes ahead of the lock, as if nothing had changed"
fi
grep -qE "taking the lock" "$WORK/steps.log" || fail "the deploy after clean took no lock"
# clean removed the node scripts: they came with the lock's batch, not in a round trip of their own.
! grep -q "installing the node scripts" "$WORK/steps.log" ||
  fail "the deploy after clean installed the node scripts apart from the lock's batch"
while read -r node _; do
  on_node "$node" "test -d /run/cluster-deploy/scripts" || fail "$node: no node scripts after the deploy"
done < <(all_nodes)
[[ "$(etcd_get "$server" "$key")" == kept ]] || fail "the key written before clean is gone"
etcd_delete "$server" "$key"

run_helper 0 "$WORK/purge.log" clean --plan "$CLUSTER_DEPLOY_PLAN" --purge-data
while read -r node group; do
  on_node "$node" "test ! -e /var/lib/$CLUSTER_DEPLOY_NAME" || fail "$node: clean --purge-data kept the data"
done < <(all_nodes)
run_helper 0 "$WORK/redeploy.log" deploy --plan "$CLUSTER_DEPLOY_PLAN"
say "clean kept the data; redeploy brought it back; --purge-data removed it"
