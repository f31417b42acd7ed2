#!/usr/bin/env bash
# A group whose last service left the plan: the next deploy retires its nodes (units stopped
# and removed, releases removed, data kept) and leaves the other groups' services alone.
source "$(dirname "$0")/lib.sh"
require_env

etcd_only=$(plan_variant etcd-only --only etcd)
servers_before=$(fingerprints | grep ' etcd ')
run_helper 0 "$WORK/retire.log" deploy --plan "$etcd_only"
for worker in $(nodes_in_group workers); do
  grep -q "^$worker: retired: no service of the plan runs here" "$WORK/retire.log" || fail "$worker was not retired"
  on_node "$worker" "! systemctl is-active -q $CLUSTER_DEPLOY_NAME-worker.service" || fail "$worker's worker still runs"
  on_node "$worker" "! test -e /etc/systemd/system/$CLUSTER_DEPLOY_NAME-worker.service" || fail "$worker's unit is still installed"
  on_node "$worker" "! test -e /opt/$CLUSTER_DEPLOY_NAME" || fail "$worker's releases are still there"
  on_node "$worker" "sudo test -d /var/lib/$CLUSTER_DEPLOY_NAME/worker" || fail "$worker's data was removed"
done
[[ "$(fingerprints | grep ' etcd ')" == "$servers_before" ]] || fail "retiring the workers restarted etcd"
run_helper 0 "$WORK/again.log" deploy --plan "$etcd_only"
grep -q "no service of the plan runs here: nothing to do" "$WORK/again.log" || fail "a retired node was not left alone"

run_helper 0 "$WORK/restore.log" deploy --plan "$CLUSTER_DEPLOY_PLAN"
for worker in $(nodes_in_group workers); do
  on_node "$worker" "systemctl is-active -q $CLUSTER_DEPLOY_NAME-worker.service" || fail "$worker's worker is not back"
done
say "ok: a group without services is retired (data kept), others untouched, and it comes back on the next deploy"
