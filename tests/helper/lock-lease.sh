#!/usr/bin/env bash
# A lock holds as long as its run (issue 22). With a lease of 6 s (the test hook
# CLUSTER_DEPLOY_LOCK_LEASE), a deploy whose rollout takes several leases keeps the node that
# waits for the last batch: another run asking for it all along is refused every time (the
# controller renews every node it holds). And a lock whose lease ran out while a script of its
# run still runs on the node (a long upload renews only at its start) is not taken over until
# that script has ended.
source "$(dirname "$0")/lib.sh"
require_env

c=$CLUSTER_DEPLOY_NAME
record=/run/cluster-deploy/$c/lock
mapfile -t workers < <(nodes_in_group workers)
last=${workers[-1]}
scratch=/run/cd-lease-test
cleanup() {
  # A failure while the deploy below runs: stop it first (bounded), or it keeps every node
  # locked for the restoring deploy and the next test.
  if [[ -n ${deploy:-} ]] && kill -0 "$deploy" 2>/dev/null; then
    kill -TERM "$deploy" 2>/dev/null || true
    for _ in $(seq 60); do
      kill -0 "$deploy" 2>/dev/null || break
      sleep 1
    done
  fi
  on_node "$last" "sudo sh -c $(shell_quote "pkill -KILL -f '^$scratch/' ; rm -rf $scratch; grep -q '^run r000000000000045' $record && rm -f $record")" \
    >/dev/null 2>&1 || true
}
restore_on_exit cleanup
# 6 s: the controller renews every 1.5 s; with 3 s (a renewal a second), one renewal round that
# took 2 s on a loaded 2-core CI machine let a contender take the node over.
export CLUSTER_DEPLOY_LOCK_LEASE=6

# 1. A change to every etcd member and every worker: the last worker waits for its batch
#    while the members restart one at a time and the canary settles (the first two members
#    settle 4 s each, the canary 5 s: the rollout outlasts two leases however fast the machine).
cp "$(service_template etcd)" "$WORK/etcd.yaml.in"
cp "$(service_template worker)" "$WORK/worker.conf.in"
stamp="# changed by the lock-lease test $(date +%s%N)"
echo "$stamp" >>"$WORK/etcd.yaml.in"
echo "$stamp" >>"$WORK/worker.conf.in"
changed=$(plan_variant changed --template "etcd=$WORK/etcd.yaml.in" --template "worker=$WORK/worker.conf.in" \
  --settle etcd=4 --settle worker=5)
started=$SECONDS
"$CLUSTER_DEPLOY" deploy --plan "$changed" >"$WORK/deploy.log" 2>&1 &
deploy=$!
wait_until 30 "the deploy to take its locks" grep -q "^$last: release [0-9a-f]*: " "$WORK/deploy.log"
attempts=0 refused=0
while kill -0 "$deploy" 2>/dev/null; do
  rc=0
  "$CLUSTER_DEPLOY" up --plan "$CLUSTER_DEPLOY_PLAN" --node "$last" >"$WORK/contender.log" 2>&1 || rc=$?
  attempts=$((attempts + 1))
  if grep -q "is locked by" "$WORK/contender.log"; then
    refused=$((refused + 1))
  elif kill -0 "$deploy" 2>/dev/null; then
    sed 's/^/    | /' "$WORK/contender.log"
    echo "  the deploy's output so far:"
    sed 's/^/    | /' "$WORK/deploy.log"
    fail "$((SECONDS - started)) s into the deploy, another run took $last (exit $rc) while the deploy still held it"
  fi
  sleep 1
done
rc=0
wait "$deploy" || rc=$?
took=$((SECONDS - started))
sed 's/^/    | /' "$WORK/deploy.log"
((rc == 0)) || fail "the deploy exited $rc"
# Two leases at least (the settle windows alone are 13 s): the node that
# waits for the last batch outlived its first lease only because the controller renewed it.
((took >= 2 * CLUSTER_DEPLOY_LOCK_LEASE)) || fail "the deploy took only ${took}s: no node waited beyond its lease"
((refused >= 3)) || fail "only $refused of $attempts runs asked for $last while the deploy held it"
say "a ${took}s deploy kept $last with a ${CLUSTER_DEPLOY_LOCK_LEASE}s lease: $refused other runs refused"

# 2. A lock 60 s past its 6 s lease whose run still has a script running on the node (and
#    whose connection, pid 1 here, is open): refused; once the script ends, taken over.
on_node "$last" "sudo sh -c $(shell_quote "mkdir -p $scratch && cp /bin/sleep $scratch/upload && env CLUSTER_DEPLOY_RUN=r000000000000045 setsid $scratch/upload 120 </dev/null >/dev/null 2>&1 &
printf 'run r000000000000045\nlease 6\nwho ci@runner pid 4545 deploy\nsince 2026-12-04T10:00:00Z\nconnection 1 %s\ncontroller 00000000-0000-0000-0000-000000000000 4545 1\n' \"\$(cut -d' ' -f22 /proc/1/stat)\" >$record
touch -d '-60 seconds' $record")"
run_helper 1 "$WORK/script-running.log" up --plan "$CLUSTER_DEPLOY_PLAN" --node "$last"
grep -q "$last is locked by ci@runner pid 4545 deploy" "$WORK/script-running.log" ||
  fail "a lock past its lease was not kept while its run's script still runs"
on_node "$last" "sudo pkill -KILL -f '^$scratch/upload'"
run_helper 0 "$WORK/script-ended.log" up --plan "$CLUSTER_DEPLOY_PLAN" --node "$last"
grep -q "$last: took over the stale lock of run r000000000000045 (ci@runner pid 4545 deploy since .*): its lease ran out" \
  "$WORK/script-ended.log" || fail "the lock was not taken over once its run's script ended"

run_helper 0 "$WORK/original.log" deploy --plan "$(plan_variant original)"
say "ok: the controller renews the nodes it holds; a running script of a run keeps its lock past the lease"
