#!/usr/bin/env bash
# A run killed at any moment never locks the next one out (issue 22): killed right after
# taking its locks or after staging, the same command again just works, with no --lock-wait;
# a lock whose controller process ran on the same machine and is gone is taken over at once (even while
# the node still sees its connection); lock.sh whose connection closed under it takes
# nothing; and a connection served by an "sshd-session" process (OpenSSH 9.8+) frees its
# lock as soon as that process is gone.
source "$(dirname "$0")/lib.sh"
require_env

worker=$(nodes_in_group workers | head -n 1)
record=/run/cluster-deploy/$CLUSTER_DEPLOY_NAME/lock
scratch=/run/cd-lock-test
cleanup() {
  on_node "$worker" "sudo sh -c $(shell_quote "pkill -KILL -f '^$scratch/' ; rm -rf $scratch; rm -f $record")" \
    >/dev/null 2>&1 || true
}
restore_on_exit cleanup

# lock.sh as the helper sends it: prelude.sh inlined where it is sourced.
remote=$HELPER_DIR/../../tools/cluster-deploy/remote
lock_text=$(awk -v prelude="$remote/prelude.sh" \
  '$0 == ". ./prelude.sh" { while ((getline line < prelude) > 0) print line; next } { print }' "$remote/lock.sh")
lock_b64=$(printf '%s\n' "$lock_text" | base64 -w0)
on_node "$worker" "sudo sh -c $(shell_quote "mkdir -p $scratch && echo $lock_b64 | base64 -d >$scratch/lock.sh")" ||
  fail "could not copy lock.sh to $worker"
no_lock_left() {  # no_lock_left <what>: no node holds a lock record after <what>
  for node in $(all_nodes | awk '{ print $1 }'); do
    on_node "$node" "! sudo test -e $record" || fail "$node: a lock record is left after $1"
  done
}

# 1. Killed (SIGKILL) right after taking every node's lock, then again after staging a
#    change: the same command at once succeeds.
template=$(service_template worker)
for point in locked staged; do
  cp "$template" "$WORK/worker-$point.conf.in"
  echo "# changed by the interrupted-lock test at $point $(date +%s%N)" >>"$WORK/worker-$point.conf.in"
  changed=$(plan_variant "$point" --template "worker=$WORK/worker-$point.conf.in")
  rc=0
  CLUSTER_DEPLOY_CRASH_AT=$point "$CLUSTER_DEPLOY" deploy --plan "$changed" >"$WORK/crash-$point.log" 2>&1 || rc=$?
  ((rc == 137)) || fail "the deploy did not die at crash point $point (exit $rc): $(tail -n 3 "$WORK/crash-$point.log")"
  grep -q "crash point $point reached" "$WORK/crash-$point.log" || fail "crash point $point was not reached"
  run_helper 0 "$WORK/after-$point.log" deploy --plan "$changed"
  [[ "$(summary_action "$WORK/after-$point.log" "$worker" worker)" == restarted ]] ||
    fail "the deploy after a crash at '$point' did not restart the changed worker"
done
run_helper 0 "$WORK/converged.log" deploy --plan "$changed" --dry-run
grep -qE "^$worker: would deploy: unchanged" "$WORK/converged.log" || fail "after the re-run, $worker still has changes"
no_lock_left "the re-runs"

# 2. A lock whose controller was a process of this same machine that is gone: taken over at once,
#    although the node still counts its connection as open (pid 1 of the node, alive).
boot=$(cat /proc/sys/kernel/random/boot_id)
fake_lock() {  # fake_lock <controller>: a run r000000000000042 holds $worker
  on_node "$worker" "sudo sh -c $(shell_quote "mkdir -p ${record%/*} && printf 'run r000000000000042\nlease 600\nwho ci@runner pid 4242 deploy\nsince 2026-12-03T10:00:00Z\nconnection 1 %s\ncontroller %s\n' \"\$(cut -d' ' -f22 /proc/1/stat)\" '$1' >$record")"
}
fake_lock "$boot 99999999 1"
run_helper 0 "$WORK/dead-here.log" deploy --plan "$changed"
grep -q "$worker: took over the stale lock of run r000000000000042 (ci@runner pid 4242 deploy since 2026-12-03T10:00:00Z): its controller process is gone" \
  "$WORK/dead-here.log" || fail "the take-over of a dead local run's lock is not reported"
#    The same lock from another machine's controller is not ours to judge: refused, saying so.
fake_lock "00000000-0000-0000-0000-000000000000 4242 1"
run_helper 1 "$WORK/elsewhere.log" deploy --plan "$changed"
grep -q "$worker is locked by ci@runner pid 4242 deploy since 2026-12-03T10:00:00Z; it frees when that run ends or its connection closes" \
  "$WORK/elsewhere.log" || fail "a live-looking lock of another machine's run was not refused with its holder"
on_node "$worker" "sudo rm -f $record"

# 3. lock.sh whose connection closed under it (adopted by init: here, started by systemd-run)
#    takes nothing and says so (exit 6): it used to write a lock with an empty connection,
#    which counted as open for the whole 600 s lease.
rc=0
on_node "$worker" "sudo systemd-run --quiet --pipe --wait sh $scratch/lock.sh $CLUSTER_DEPLOY_NAME r000000000000043 600 'orphan@test pid 1 deploy' ''" \
  >"$WORK/orphan.log" 2>&1 || rc=$?
((rc == 6)) || fail "an orphaned lock.sh exited $rc, not 6: $(cat "$WORK/orphan.log")"
on_node "$worker" "! sudo test -e $record" || fail "an orphaned lock.sh wrote a lock record"

# 4. OpenSSH 9.8+ serves a connection from "sshd-session" (its listener is still "sshd"). A
#    lock taken below such a process names it, and is free as soon as it is gone.
on_node "$worker" "sudo sh -c $(shell_quote "cp /bin/dash $scratch/sshd-session && setsid $scratch/sshd-session -c 'sh $scratch/lock.sh $CLUSTER_DEPLOY_NAME r000000000000044 600 \"session@test pid 1 deploy\" \"\"; sleep 120; true' </dev/null >/dev/null 2>&1 &")"
wait_until 10 "the lock below sshd-session" on_node "$worker" "sudo grep -q '^run r000000000000044' $record"
holder=$(on_node "$worker" "sudo sed -n 's/^connection \([0-9]*\) .*/\1/p' $record")
[[ $(on_node "$worker" "cat /proc/$holder/comm") == sshd-session ]] ||
  fail "the lock names connection '$holder', not the sshd-session process above lock.sh"
run_helper 1 "$WORK/session-open.log" deploy --plan "$changed"
on_node "$worker" "sudo kill -KILL -- -$holder"
run_helper 0 "$WORK/session-gone.log" deploy --plan "$changed"
grep -q "$worker: took over the stale lock of run r000000000000044 (session@test pid 1 deploy since .*): its connection is gone" \
  "$WORK/session-gone.log" || fail "the take-over of a lock whose connection is gone is not reported"
no_lock_left "every run"

# 5. A real OpenSSH 10 node (trixie: sshd-session): a run killed right after taking its lock,
#    whose controller the node cannot judge (another machine's, as far as the record says),
#    is free as soon as its connection is gone.
session_node=""
for node in $(all_nodes | awk '{ print $1 }'); do
  # shellcheck disable=SC2016 # $PPID is the node's
  if [[ $(on_node "$node" 'cat /proc/$PPID/comm') == sshd-session ]]; then session_node=$node; break; fi
done
if [[ -z $session_node ]]; then
  say "no node serves SSH from sshd-session (no trixie node in the inventory): step 5 skipped"
else
  rc=0
  # An `up`: it locks what it holds, where a deploy with nothing to change there takes no lock.
  CLUSTER_DEPLOY_CRASH_AT=locked "$CLUSTER_DEPLOY" up --plan "$changed" --node "$session_node" \
    >"$WORK/crash-session.log" 2>&1 || rc=$?
  ((rc == 137)) || fail "the up of $session_node did not die at crash point locked (exit $rc)"
  on_node "$session_node" "sudo sed -i 's/^controller .*/controller 00000000-0000-0000-0000-000000000000 4242 1/' $record"
  holder=$(on_node "$session_node" "sudo sed -n 's/^connection \([0-9]*\) .*/\1/p' $record")
  [[ -n $holder ]] || fail "$session_node: the lock names no connection"
  [[ $(on_node "$session_node" "cat /proc/$holder/comm 2>/dev/null || echo gone") != sshd ]] ||
    fail "$session_node: the lock names the sshd listener, not the connection's sshd-session"
  run_helper 0 "$WORK/session-node.log" deploy --plan "$changed" --node "$session_node"
fi
no_lock_left "the run on the sshd-session node"

say "ok: a killed run's locks never block the next run; dead local runs are taken over; an orphaned lock.sh takes nothing; sshd-session connections are recognised"
