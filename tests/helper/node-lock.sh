#!/usr/bin/env bash
# A node is held by one command run at a time: a run that meets a node another run holds
# changes nothing and says who holds it; --lock-wait waits for it; a lock whose run died
# (its lease ran out) does not block; a finished run leaves no lock behind.
source "$(dirname "$0")/lib.sh"
require_env

worker=$(nodes_in_group workers | head -n 1)
record=/run/cluster-deploy/$CLUSTER_DEPLOY_NAME/lock
# The fake lock of "another run" must not outlive this test, whatever happens.
trap 'on_node "$worker" "sudo rm -f $record" >/dev/null 2>&1 || true; drop_work' EXIT
fake_lock() {  # fake_lock <age in seconds>: another run (say, CI's) holds $worker
  on_node "$worker" "sudo sh -c $(shell_quote "mkdir -p ${record%/*} && printf 'run r000000000000042\nlease 600\nwho ci@runner pid 4242 deploy\nsince 2026-11-27T10:00:00Z\n' >$record && touch -d '-$1 seconds' $record")"
}

# 1. Held by another run: refused before anything changes, naming the holder.
template=$(service_template worker)
cp "$template" "$WORK/worker.conf.in"
echo "# changed by the node-lock test $(date +%s%N)" >>"$WORK/worker.conf.in"
changed=$(plan_variant changed --template "worker=$WORK/worker.conf.in")
before=$(fingerprints)
fake_lock 5
run_helper 1 "$WORK/held.log" deploy --plan "$changed"
grep -q "$worker is locked by ci@runner pid 4242 deploy since 2026-11-27T10:00:00Z" "$WORK/held.log" ||
  fail "the refusal does not name the node and who holds it"
grep -q "nothing was changed" "$WORK/held.log" || fail "the refusal does not say that nothing was changed"
[[ "$(fingerprints)" == "$before" ]] || fail "a refused deploy changed something"
for node in $(all_nodes | awk '{ print $1 }'); do
  [[ $node == "$worker" ]] && continue
  on_node "$node" "! sudo test -e $record" || fail "$node: the refused run left its lock behind"
done

# 2. --lock-wait: the other run finishes while we wait.
fake_lock 5
(sleep 3 && on_node "$worker" "sudo rm -f $record") &
releaser=$!
run_helper 0 "$WORK/waited.log" deploy --plan "$changed" --lock-wait 60
wait "$releaser"
[[ "$(summary_action "$WORK/waited.log" "$worker" worker)" == restarted ]] || fail "the waiting deploy did not deploy"

# 3. A run whose controller died: its lease ran out, it blocks nothing.
fake_lock 700
run_helper 0 "$WORK/stale.log" deploy --plan "$CLUSTER_DEPLOY_PLAN"

# 4. Two real runs at once: a clean started during a deploy is refused and changes nothing.
cp "$WORK/worker.conf.in" "$WORK/worker2.conf.in"
echo "# second change $(date +%s%N)" >>"$WORK/worker2.conf.in"
second=$(plan_variant second --template "worker=$WORK/worker2.conf.in")
"$CLUSTER_DEPLOY" deploy --plan "$second" >"$WORK/concurrent-deploy.log" 2>&1 &
deployer=$!
for _ in $(seq 100); do  # until the deploy holds the worker (at most 10 s)
  on_node "$worker" "sudo test -e $record" && break
  sleep 0.1
done
run_helper 1 "$WORK/concurrent-clean.log" clean --plan "$CLUSTER_DEPLOY_PLAN" --node "$worker"
grep -q "$worker is locked by .* deploy since" "$WORK/concurrent-clean.log" || fail "the clean did not meet the deploy's lock"
wait "$deployer" || fail "the deploy failed while a clean was refused: $(cat "$WORK/concurrent-deploy.log")"
on_node "$worker" "sudo test -e /opt/$CLUSTER_DEPLOY_NAME/current" || fail "the refused clean removed the release"
for node in $(all_nodes | awk '{ print $1 }'); do
  on_node "$node" "! sudo test -e $record" || fail "$node: a finished run left its lock behind"
done

# 5. A run whose controller is killed mid-deploy: its connection closes, and the node is free
#    at once, not after the 10-minute lease (a few seconds' wait covers sshd noticing).
"$CLUSTER_DEPLOY" deploy --plan "$changed" >"$WORK/killed-deploy.log" 2>&1 &
deployer=$!
for _ in $(seq 100); do
  on_node "$worker" "sudo test -e $record" && break
  sleep 0.1
done
on_node "$worker" "sudo grep -q '^connection [0-9]' $record" || fail "the lock does not name the run's connection"
kill -9 "$deployer"
wait "$deployer" 2>/dev/null || true
run_helper 0 "$WORK/after-kill.log" deploy --plan "$CLUSTER_DEPLOY_PLAN" --lock-wait 10

run_helper 0 "$WORK/restore.log" deploy --plan "$CLUSTER_DEPLOY_PLAN"
say "ok: a held node refuses other runs (naming the holder), --lock-wait waits, a dead run's lock expires, a dropped connection frees its nodes"
