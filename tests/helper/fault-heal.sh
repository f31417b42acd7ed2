#!/usr/bin/env bash
# Faults are refused where the project did not allow them, leave alone what is not ours, and never
# outlive their welcome: the fixture's heal step undoes faults a failed test left behind, and a
# fault heals itself on the node when its time is up even if the controller was killed.
source "$(dirname "$0")/lib.sh"
require_env

plan=$CLUSTER_DEPLOY_PLAN
mapfile -t servers < <(nodes_in_group servers)
mapfile -t workers < <(nodes_in_group workers)
mapfile -t nodes < <(all_nodes | cut -d' ' -f1)
s1=${servers[0]} s2=${servers[1]} s3=${servers[2]} w1=${workers[0]} w2=${workers[1]}
unit() { echo "$CLUSTER_DEPLOY_NAME-$1.service"; }

# --- refused without FAULTS on the inventory, before anything is touched
nofaults=$(plan_variant nofaults --no-faults)
run_helper 2 "$WORK/refused.log" fault partition "$s1" --plan "$nofaults"
grep -q "faults are not allowed on the inventory" "$WORK/refused.log" || fail "no clear refusal"
[[ -z "$(on_node "$s1" "sudo nft list tables" | grep cluster_deploy_ || true)" ]] || fail "a refused fault left a rule"
# corrupt destroys data: refused unless the inventory says CORRUPT_FAULTS in so many words
nocorrupt=$(plan_variant nocorrupt --no-corrupt)
run_helper 2 "$WORK/no-corrupt.log" fault corrupt "$w1" --service worker --file checkpoint --plan "$nocorrupt"
grep -q "corrupt destroys data and is not allowed on the inventory .*CORRUPT_FAULTS" "$WORK/no-corrupt.log" ||
  fail "no clear refusal of corrupt: $(cat "$WORK/no-corrupt.log")"
run_helper 2 "$WORK/bad-file.log" fault corrupt "$w1" --service worker --file ../etc/passwd --plan "$plan"
grep -q "bad --file '../etc/passwd'" "$WORK/bad-file.log" || fail "a file outside the data folder was not refused"

# --- what is not ours survives every heal
on_node "$s2" "sudo nft add table inet someone_else && sudo nft add chain inet someone_else input '{ type filter hook input priority 0; policy accept; }' && sudo nft add rule inet someone_else input tcp dport 9 drop"
# Whatever happens, the next test starts without a fault of ours (a failure here must not cascade).
trap '"$CLUSTER_DEPLOY" heal --plan "$plan" >/dev/null 2>&1 || true
  on_node "$s2" "sudo nft delete table inet someone_else" >/dev/null 2>&1 || true; drop_work' EXIT

# nothing_of_ours_left: on every node no rule, record, filler or pending (or failed) heal timer of ours, no
# stopped process of our units. (A finished transient heal unit may stay loaded until systemd collects it.)
nothing_of_ours_left() {
  local node out
  for node in "${nodes[@]}"; do
    out=$(on_node "$node" "sudo nft list tables; systemctl list-units --no-legend 'cluster-deploy-heal-*'; sudo ls /run/cluster-deploy/$CLUSTER_DEPLOY_NAME/faults 2>/dev/null; sudo ls -a /var/lib/$CLUSTER_DEPLOY_NAME 2>/dev/null; for p in \$(systemctl show -p MainPID --value $(unit etcd) $(unit worker) 2>/dev/null); do [ \$p = 0 ] || ps -o stat= -p \$p; done; systemctl show -p FreezerState $(unit etcd) $(unit worker) 2>/dev/null | grep -v =running || true") || return 1
    if grep -E 'cluster_deploy_|cluster-deploy-heal|cluster-deploy-fill|^f[0-9]|^T|^FreezerState' <<<"$out" >/dev/null; then
      say "$node still has: $(tr '\n' ' ' <<<"$out")"
      on_node "$node" "sudo journalctl -u 'cluster-deploy-heal-*' -n 20 --no-pager -o short-iso" 2>&1 | sed 's/^/    heal journal | /' || true
      return 1
    fi
  done
}
etcd_active() { on_node "$1" "systemctl is-active --quiet $(unit etcd)"; }

# --- faults a failing test left behind (no --for: they would last 600 s) ...
run_helper 0 "$WORK/partition.log" fault partition "$s2" --plan "$plan"
run_helper 0 "$WORK/pause.log" fault pause "$w1" --service worker --plan "$plan"
run_helper 0 "$WORK/kill.log" fault kill "$s3" --service etcd --keep-down --plan "$plan"
run_helper 0 "$WORK/disk.log" fault disk-full "$w2" --service worker --plan "$plan"
on_node "$w2" "sudo ls -a /var/lib/$CLUSTER_DEPLOY_NAME" | grep -q cluster-deploy-fill || fail "no filler on $w2"
on_node "$s2" "sudo nft list tables" | grep -q cluster_deploy_ || fail "no partition rule on $s2"
[[ "$(on_node "$w1" "ps -o stat= -p $(main_pid "$w1" worker)")" == T* ]] || fail "$w1 is not paused"
! etcd_active "$s3" || fail "etcd runs on $s3 after kill --keep-down"
run_helper 1 "$WORK/status.log" status --plan "$plan"   # 1: etcd is down on $s3
grep -E "^$w1 +worker .*pause" "$WORK/status.log" >/dev/null || fail "status shows no pause on $w1"
grep -E "^$s3 +etcd .*kill-keep-down" "$WORK/status.log" >/dev/null || fail "status shows no kill on $s3"

# ... are healed by the fixture's first step that changes anything, run exactly as ctest runs
# cluster.cleanup.
build=$(dirname "$(dirname "$plan")")
mapfile -t heal_step < <(ctest --test-dir "$build" --show-only=json-v1 | python3 -c '
import json, sys
tests = {t["name"]: t for t in json.load(sys.stdin)["tests"]}
command = tests["cluster.cleanup"]["command"]
marks = [i for i, w in enumerate(command) if w in ("::step::", "::optional-step::")] + [len(command)]
steps = [command[a:b] for a, b in zip(marks, marks[1:])]
# Its first step collects the evidence of a killed test (reads only); the heal comes next.
assert steps[0][2] == "collect" and steps[1][2] == "heal", "the cleanup fixture does not heal first: %r" % steps
print("\n".join(command[:marks[0]] + steps[1]))')
((${#heal_step[@]} > 0)) || fail "cannot read the cleanup fixture's command"
"${heal_step[@]}" || fail "the cleanup fixture's heal step failed"
wait_until 30 "etcd did not come back on $s3 after heal" etcd_active "$s3"
wait_until 10 "faults survived the fixture's heal" nothing_of_ours_left
on_node "$s2" "sudo nft list table inet someone_else" | grep -q "dport 9 drop" || fail "heal removed a table that is not ours"
run_helper 0 "$WORK/heal-again.log" heal --plan "$plan"   # idempotent
say "the cleanup fixture healed a partition, a pause and a kill left behind"

# --- a fault heals itself on the node, even when the controller is killed while applying it
"$CLUSTER_DEPLOY" fault partition servers --for 8 --plan "$plan" >"$WORK/killed.log" 2>&1 &
controller=$!
partitioned() { on_node "$s1" "sudo nft list tables" | grep -q cluster_deploy_; }
wait_until 10 "the partition never reached $s1" partitioned
kill -9 "$controller" 2>/dev/null || true # gone, or still applying on other nodes: either way, no heal from it
wait "$controller" 2>/dev/null || true
run_helper 0 "$WORK/pause-timed.log" fault pause "$w2" --service worker --for 5 --plan "$plan"
[[ "$(on_node "$w2" "ps -o stat= -p $(main_pid "$w2" worker)")" == T* ]] || fail "$w2 is not paused"
sleep 5
wait_until 20 "faults did not heal themselves after --for" nothing_of_ours_left
say "ok: refused without FAULTS, foreign rules kept, left-behind faults healed, timed faults healed themselves"
