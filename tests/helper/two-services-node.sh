#!/usr/bin/env bash
# A node with two services, of which the second may not restart, is never left with that
# service's unit or `current` ahead of the program it runs (issue 22). The worker moves onto the
# servers, beside etcd, and rolls first; then a change to both, with etcd's QUORUM check
# refusing the roll: every server goes back to the release it had (its worker with it), so etcd
# and the worker run from the release `current` points to.
source "$(dirname "$0")/lib.sh"
require_env
mapfile -t servers < <(nodes_in_group servers)
restore_on_exit : # no undo of its own

# On the servers the worker has no inventory shard: its node's index stands in.
sed 's/@shard@/@index@/' "$(service_template worker)" >"$WORK/worker-beside.in"
cp "$(service_template etcd)" "$WORK/etcd.in"
cp "$WORK/worker-beside.in" "$WORK/worker.in"
for service in etcd worker; do
  echo "# changed by the two-services-node test $(date +%s%N)" >>"$WORK/$service.in"
done
beside=$(plan_variant beside --group worker=servers --independent worker --after etcd=worker \
  --template "worker=$WORK/worker-beside.in")
refused=$(plan_variant refused --group worker=servers --independent worker --after etcd=worker --quorum etcd=false \
  --template "etcd=$WORK/etcd.in" --template "worker=$WORK/worker.in")

run_helper 0 "$WORK/beside.log" deploy --plan "$beside"
declare -A before
for server in "${servers[@]}"; do
  before[$server]=$(release_of "$server")
  [[ "$(exe_release_of "$server" worker)" == "${before[$server]}" ]] || fail "$server: the worker does not run beside etcd"
done

run_helper 1 "$WORK/refused.log" deploy --plan "$refused" --health-timeout 15 # the gate never passes
grep -qE "^${servers[0]} +etcd +not restarted +FAILED: the group is not whole" "$WORK/refused.log" ||
  fail "etcd's QUORUM check did not stop the roll"
for server in "${servers[@]}"; do
  grep -qE "^$server +worker +rolled back +FAILED: etcd did not restart here" "$WORK/refused.log" ||
    fail "$server: no row says the worker went back because etcd did not restart there"
  [[ "$(release_of "$server")" == "${before[$server]}" ]] ||
    fail "$server: current points to $(release_of "$server"), ahead of the etcd that runs (${before[$server]})"
  for service in etcd worker; do
    [[ "$(exe_release_of "$server" "$service")" == "${before[$server]}" ]] ||
      fail "$server: $service runs from $(exe_release_of "$server" "$service"), not from current (${before[$server]})"
  done
  on_node "$server" "cmp -s /etc/systemd/system/$CLUSTER_DEPLOY_NAME-etcd.service /opt/$CLUSTER_DEPLOY_NAME/current/units/$CLUSTER_DEPLOY_NAME-etcd.service" ||
    fail "$server: etcd's unit is not the one of the release it runs"
done
say "ok: etcd's gate refused the roll after the worker had switched ${#servers[@]} servers; each went back, etcd and the worker run from current"
