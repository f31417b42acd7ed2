#!/usr/bin/env bash
# `ctest --preset real-cluster` against a real inventory leaves every service running. The
# inventory is the local cluster's nodes written as a user writes real machines (no
# LOCAL_CLUSTER, so TEARDOWN defaults to none); ssh goes through the local cluster's ssh_config
# (CLUSTER_DEPLOY_SSH_CONFIG, as docs/using.md "Pointing it at real machines" allows). The tests that
# stop services skip, saying why; afterwards every service of every node runs.
source "$(dirname "$0")/lib.sh"
require_env

repo=$(cd "$(dirname "$0")/../.." && pwd)
# ctest --preset runs the tests of the preset's own binary directory when it exists, whatever
# --test-dir says: that may be a developer's build against real machines. Never run those.
preset_dir=$repo/build/real-cluster
if [[ -e $preset_dir ]]; then
  say "skipped: $preset_dir exists, and ctest --preset real-cluster would run its tests; move it away to run this test"
  drop_work
  exit 77
fi
inventory=$(plan_attr 'r.get("inventory")')
mkdir -p "$WORK/prod"
cp "$inventory"/*.txt "$WORK/prod/"
build=$WORK/build
remove_preset_dir() { rm -rf "$preset_dir"; } # it did not exist before: ctest made it (Testing/)
restore_on_exit remove_preset_dir

export CLUSTER_DEPLOY_INVENTORY=$WORK/prod
# The helper this test suite built is the one to use (CLUSTER_DEPLOY_EXECUTABLE, as a user with an
# installed helper sets it): building it again would take minutes on 2 cores and prove nothing new.
(cd "$repo" && cmake --preset real-cluster -B "$build" -DCLUSTER_DEPLOY_SSH_CONFIG="$CLUSTER_DEPLOY_SSH_CONFIG" \
  -DCLUSTER_DEPLOY_EXECUTABLE="$CLUSTER_DEPLOY") \
  >"$WORK/configure.log" 2>&1 || { tail -n 20 "$WORK/configure.log"; fail "cmake --preset real-cluster failed"; }
grep -rqs "CLUSTER_DEPLOY_TEARDOWN=none" "$build" --include=CTestTestfile.cmake ||
  fail "the real inventory's tests do not see TEARDOWN none"
# What the fixture's deploy needs (the whole build would add the unit tests, minutes on 2 cores).
cmake --build "$build" --target example-worker >"$WORK/build.log" 2>&1 ||
  { tail -n 20 "$WORK/build.log"; fail "building for the real cluster failed"; }

(cd "$repo" && ctest --preset real-cluster --test-dir "$build") >"$WORK/ctest.log" 2>&1 ||
  { tail -n 40 "$WORK/ctest.log"; fail "ctest --preset real-cluster failed"; }
grep -qE "down-up-keeps-data .*Skipped" "$WORK/ctest.log" ||
  { tail -n 40 "$WORK/ctest.log"; fail "the test that stops services did not skip on a real inventory"; }
grep -q "cluster.cleanup .*Passed" "$WORK/ctest.log" || fail "the cleanup fixture did not run"

real_plan=$build/cluster-deploy/plan.xml
run_helper 0 "$WORK/status.log" status --plan "$real_plan" # exit 0: every service of every node runs
for node in $(all_nodes | awk '{ print $1 }'); do
  grep -qE "^$node +[a-z]+ +active" "$WORK/status.log" || fail "$node: no running service after the real-cluster tests"
done

# Collecting evidence on a real inventory only reads: what we own on each node (files, units,
# modes, times, the lock and fault records) and the services' processes are the same after it.
node_state() { # <node>
  on_node "$1" "sudo sh -c 'find /opt/$CLUSTER_DEPLOY_NAME /etc/systemd/system /run/cluster-deploy -xdev \
    -printf \"%p %s %m %T@\n\" 2>/dev/null | sort | sha256sum; systemctl show -p MainPID -p NRestarts \
    $CLUSTER_DEPLOY_NAME-etcd.service $CLUSTER_DEPLOY_NAME-worker.service'"
}
for node in $(all_nodes | awk '{ print $1 }'); do node_state "$node" >"$WORK/before.$node"; done
run_helper 0 "$WORK/collect.log" collect --plan "$real_plan" --since -2m --out "$WORK/evidence"
[[ -s $WORK/evidence/summary.txt && -s $WORK/evidence/timeline.html ]] || fail "collect wrote no evidence"
# The workers log every 3 s: two minutes of their journal are there (etcd may have said nothing).
for node in $(nodes_in_group workers); do
  [[ -s $WORK/evidence/nodes/$node/journal.txt ]] || fail "$node: collect read no journal"
done
for node in $(all_nodes | awk '{ print $1 }'); do
  grep -qE "^  $node  [0-9]+ journal lines" "$WORK/evidence/summary.txt" ||
    fail "$node: collect could not read the node: $(grep "^  $node " "$WORK/evidence/summary.txt")"
  node_state "$node" >"$WORK/after.$node"
  cmp -s "$WORK/before.$node" "$WORK/after.$node" || fail "$node: collect changed the node: $(diff "$WORK/before.$node" "$WORK/after.$node")"
done
say "ok: ctest --preset real-cluster on a real inventory ran, skipped what stops services, left every service running; collect changed nothing"
