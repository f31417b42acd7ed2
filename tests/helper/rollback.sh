#!/usr/bin/env bash
# A worker build that exits at start: the canary fails and goes back, the other workers never
# leave their release (a crash there restarts the old version); `rollback` returns the cluster
# to the release before, and says so clearly when there is nothing earlier.
source "$(dirname "$0")/lib.sh"
require_env

mapfile -t workers < <(nodes_in_group workers)
((${#workers[@]} >= 3)) || fail "needs 3 workers"
# A fresh start on the workers: their release history is this test's alone.
run_helper 0 "$WORK/clean.log" clean --plan "$CLUSTER_DEPLOY_PLAN" --group workers
run_helper 0 "$WORK/fresh.log" deploy --plan "$CLUSTER_DEPLOY_PLAN"
run_helper 1 "$WORK/first.log" rollback --plan "$CLUSTER_DEPLOY_PLAN" --group workers
grep -q "nothing earlier than release" "$WORK/first.log" || fail "rollback of a first release does not say there is nothing earlier"
grep -q "nothing was rolled back" "$WORK/first.log" || fail "the refusal does not say nothing changed"

declare -A before pid
for worker in "${workers[@]}"; do
  before[$worker]=$(release_of "$worker")
  pid[$worker]=$(main_pid "$worker" worker)
done

# --- a bad build: the canary fails, goes back, nothing else moves
mkdir -p "$WORK/bad"
program=$(service_program worker)
printf '#!/bin/sh\necho "bad build: exiting" >&2\nexit 1\n' >"$WORK/bad/$(basename "$program")"
chmod +x "$WORK/bad/$(basename "$program")"
bad=$(plan_variant bad --program "worker=$WORK/bad/$(basename "$program")")
run_helper 1 "$WORK/bad.log" deploy --plan "$bad" --health-timeout 8
canary=$(awk '$2 == "worker" && $3 == "rolled" { print $1 }' "$WORK/bad.log")
[[ $(wc -w <<<"$canary") -eq 1 ]] || fail "expected exactly one canary rolled back, got '$canary'"
for worker in "${workers[@]}"; do
  [[ "$(release_of "$worker")" == "${before[$worker]}" ]] || fail "$worker is not on its old release after the failed canary"
  wait_until 20 "$worker does not run its old release" eval '[[ "$(exe_release_of "$worker" worker)" == "${before[$worker]}" ]]'
  if [[ $worker != "$canary" ]]; then
    grep -qE "^$worker +worker +not restarted" "$WORK/bad.log" || fail "$worker: no 'not restarted' row"
    [[ "$(main_pid "$worker" worker)" == "${pid[$worker]}" ]] || fail "$worker was restarted although it was not the canary"
  fi
done
untouched=$(printf '%s\n' "${workers[@]}" | grep -vx "$canary" | head -n 1)
on_node "$untouched" "sudo kill -9 ${pid[$untouched]}"
wait_until 20 "$untouched was not restarted after kill -9" eval '[[ "$(main_pid "$untouched" worker)" != "${pid[$untouched]}" && "$(main_pid "$untouched" worker)" != 0 ]]'
[[ "$(exe_release_of "$untouched" worker)" == "${before[$untouched]}" ]] || fail "$untouched restarted on another release than its old one"
say "bad build: canary $canary rolled back, the others kept ${before[$untouched]} (kill -9 restarted the old version)"

# --- rollback returns every node to the release before
conf=$(service_template worker)
cp "$conf" "$WORK/worker.conf.in"
echo "# changed by the rollback test $(date +%s%N)" >>"$WORK/worker.conf.in"
changed=$(plan_variant changed --template "worker=$WORK/worker.conf.in")
run_helper 0 "$WORK/changed.log" deploy --plan "$changed"
for worker in "${workers[@]}"; do
  [[ "$(release_of "$worker")" != "${before[$worker]}" ]] || fail "$worker did not move to the changed release"
done
mapfile -t servers < <(nodes_in_group servers)
declare -A server_release
for server in "${servers[@]}"; do server_release[$server]=$(release_of "$server"); done
# The whole cluster: only what the last deploy changed (the workers) goes back.
run_helper 0 "$WORK/rollback.log" rollback --plan "$changed"
for server in "${servers[@]}"; do
  [[ "$(release_of "$server")" == "${server_release[$server]}" ]] || fail "rollback moved $server, which the last deploy did not change"
done
run_helper 0 "$WORK/status.log" status --plan "$changed" --group workers
for worker in "${workers[@]}"; do
  [[ "$(release_of "$worker")" == "${before[$worker]}" ]] || fail "$worker is not back on ${before[$worker]} after rollback"
  grep -qE "^$worker +worker +active \(running\) .* ${before[$worker]} " "$WORK/status.log" || fail "status does not show $worker running ${before[$worker]}"
done

# --- a second rollback: nothing is earlier than the first release of this test
run_helper 1 "$WORK/again.log" rollback --plan "$changed" --group workers
grep -q "nothing earlier than release" "$WORK/again.log" || fail "a second rollback does not say there is nothing earlier"
for worker in "${workers[@]}"; do
  [[ "$(release_of "$worker")" == "${before[$worker]}" ]] || fail "$worker moved although the rollback was refused"
done
run_helper 0 "$WORK/restore.log" deploy --plan "$CLUSTER_DEPLOY_PLAN"
say "ok: canary rolled back, rollback returned every worker to its release, refused with nothing earlier"
