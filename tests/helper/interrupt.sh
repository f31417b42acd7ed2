#!/usr/bin/env bash
# Ctrl-C and SIGTERM end a deploy cleanly (issue 22): no new step starts, the fan-out's key
# leaves every node, the locks are given back, the run says it was stopped and exits 130
# (SIGINT) or 143 (SIGTERM); a second Ctrl-C stops at once. After each, the same deploy
# converges.
source "$(dirname "$0")/lib.sh"
require_env

program=$(service_program worker)
name=$(basename "$program")
c=$CLUSTER_DEPLOY_NAME
mapfile -t workers < <(nodes_in_group workers)
restore_on_exit

# 1. Ctrl-C while the workers pass a new program on to each other.
mkdir -p "$WORK/big"
cp "$program" "$WORK/big/$name"
head -c $((16 * 1024 * 1024)) /dev/urandom >>"$WORK/big/$name"
big=$(plan_variant big --program "worker=$WORK/big/$name")
rc=0
CLUSTER_DEPLOY_CRASH_AT=passed-on:INT "$CLUSTER_DEPLOY" deploy --plan "$big" --fan-out on >"$WORK/int.log" 2>&1 || rc=$?
sed 's/^/    | /' "$WORK/int.log"
((rc == 130)) || fail "a deploy interrupted during the fan-out exited $rc, not 130"
grep -q "crash point passed-on reached" "$WORK/int.log" || fail "no file was passed on between nodes"
grep -q "deploy stopped by SIGINT" "$WORK/int.log" || fail "the interrupted deploy does not say it was stopped"
no_run_leftovers "after Ctrl-C during the fan-out"
for worker in "${workers[@]}"; do
  [[ "$(on_node "$worker" "systemctl is-active $c-worker.service")" == active ]] ||
    fail "$worker: the worker is not running after the interrupted deploy"
done
converges "$big" "Ctrl-C during the fan-out"

# 2. SIGTERM (a CI job's timeout) right after the first worker switched: that worker's step
#    ends, no further batch starts.
template=$(service_template worker)
cp "$template" "$WORK/worker.conf.in"
echo "# changed by the interrupt test $(date +%s%N)" >>"$WORK/worker.conf.in"
changed=$(plan_variant changed --template "worker=$WORK/worker.conf.in")
rc=0
CLUSTER_DEPLOY_CRASH_AT=switched:TERM "$CLUSTER_DEPLOY" deploy --plan "$changed" >"$WORK/term.log" 2>&1 || rc=$?
sed 's/^/    | /' "$WORK/term.log"
((rc == 143)) || fail "a deploy stopped by SIGTERM exited $rc, not 143"
grep -q "the rollout stopped at SIGTERM" "$WORK/term.log" || fail "the later batches do not say the rollout stopped"
restarted=$(grep -cE "^worker[0-9]* +worker +restarted +ok" "$WORK/term.log" || true)
((restarted == 1)) || fail "$restarted workers restarted after SIGTERM at the first switch, expected 1"
no_run_leftovers "after SIGTERM"
converges "$changed" "SIGTERM at the first switch"

# 3. A second Ctrl-C stops at once (no summary); the next run copes.
cp "$template" "$WORK/worker3.conf.in"
echo "# changed again by the interrupt test $(date +%s%N)" >>"$WORK/worker3.conf.in"
third=$(plan_variant third --template "worker=$WORK/worker3.conf.in")
"$CLUSTER_DEPLOY" deploy --plan "$third" >"$WORK/twice.log" 2>&1 &
deployer=$!
wait_until 60 "the deploy's rolling restart" grep -q "rolling restart" "$WORK/twice.log"
kill -INT "$deployer"
sleep 0.1
kill -INT "$deployer" 2>/dev/null || true
rc=0
wait "$deployer" || rc=$?
sed 's/^/    | /' "$WORK/twice.log"
((rc == 130)) || fail "a deploy interrupted twice exited $rc, not 130"
! grep -q "deploy stopped by SIGINT" "$WORK/twice.log" || fail "the second Ctrl-C did not stop the deploy at once"
converges "$third" "two Ctrl-C"

say "ok: Ctrl-C and SIGTERM stop a deploy cleanly (130/143, no key or lock left), a second Ctrl-C at once; each time the same deploy converges"
