#!/usr/bin/env bash
# Killed, interrupted or cut off at any step, the next deploy converges (issue 22). Each case
# deploys a change to every etcd member and every worker while a client writes to etcd, and
# breaks the run at a crash point (docs/testing.md): KILL (kill -9), INT (Ctrl-C), or CUT (the
# controller frozen there while one node's own nft table drops what the controller sends to its
# sshd for 8 s, healed by the node's own timer; then the run goes on). Right after the break, before
# any other run, every service runs the release its node's `current` points to (a node switches
# and restarts its service in one step that outlives the controller). Then: the same deploy
# exits 0, a dry run shows nothing to change, nothing of ours is left on a node, every service runs
# the release `current` points to, every acknowledged write is readable, and writes never stopped
# for long (the group kept its quorum).
#
#   crash-matrix.sh <point>:KILL|INT|CUT ...   the cases given
#   crash-matrix.sh random:<n>                 n kills -9 at random moments of the deploy
#   crash-matrix.sh --all                      every point x {KILL, INT, CUT}, then random:20
source "$(dirname "$0")/lib.sh"
require_env

points=(locked compared prepared uploaded sealed staged switched started healthy recorded rolled-out)
cases=("$@")
if [[ ${1:-} == --all ]]; then
  cases=()
  for point in "${points[@]}"; do
    cases+=("$point:KILL" "$point:INT" "$point:CUT")
  done
  cases+=(random:20)
fi
((${#cases[@]} > 0)) || fail "usage: crash-matrix.sh <point>:KILL|INT|CUT ... | random:<n> | --all"

mapfile -t servers < <(nodes_in_group servers)
mapfile -t nodes < <(all_nodes | awk '{ print $1 }')
cut_table=cd_test_cut
heal_cuts() {
  local node
  for node in "${nodes[@]}"; do
    on_node "$node" "sudo sh -c 'systemctl stop cd-test-cut.timer cd-test-cut-heal.timer 2>/dev/null; nft delete table inet $cut_table 2>/dev/null; rm -f /run/$cut_table.nft /run/$cut_table.healed; true'" \
      >/dev/null 2>&1 || true
  done
}
restore_on_exit heal_cuts
cp "$(service_template etcd)" "$WORK/etcd.yaml.in.orig"
cp "$(service_template worker)" "$WORK/worker.conf.in.orig"

n=0
new_change() {  # new_change: a plan that changes every etcd member's and worker's config (case $n)
  local stamp
  stamp="# changed by the crash-matrix test, case $n, $(date +%s%N)"
  { cat "$WORK/etcd.yaml.in.orig"; echo "$stamp"; } >"$WORK/etcd-$n.yaml.in"
  { cat "$WORK/worker.conf.in.orig"; echo "$stamp"; } >"$WORK/worker-$n.conf.in"
  plan_variant "case$n" --template "etcd=$WORK/etcd-$n.yaml.in" --template "worker=$WORK/worker-$n.conf.in"
}

# cut_link <node> <seconds>: from 1 s on, <node> drops every packet the controller sends to its
# sshd, for <seconds>; two transient timers of the node's own apply and heal it (AccuracySec:
# systemd's default of 1 min would let both fire at once), and the heal leaves a mark.
cut_link() {
  local from
  # shellcheck disable=SC2016 # $SSH_CLIENT is the node's
  from=$(on_node "$1" 'echo "${SSH_CLIENT%% *}"')
  on_node "$1" "sudo sh -c $(shell_quote "printf 'table inet $cut_table {\n chain input {\n  type filter hook input priority -10; policy accept;\n  ip saddr $from tcp dport 22 drop\n }\n}\n' >/run/$cut_table.nft
systemd-run --quiet --collect --unit=cd-test-cut --on-active=1 --timer-property=AccuracySec=100ms nft -f /run/$cut_table.nft
systemd-run --quiet --collect --unit=cd-test-cut-heal --on-active=$((1 + $2)) --timer-property=AccuracySec=100ms \
  sh -c 'nft delete table inet $cut_table && touch /run/$cut_table.healed'")"
}

# crash_case <point> <mode> <plan>: one run broken at <point>; prints nothing, fails on a surprise.
crash_case() {
  local point=$1 mode=$2 plan=$3 rc=0 deployer log=$WORK/crash.log
  case $mode in
  KILL | INT)
    CLUSTER_DEPLOY_CRASH_AT=$point:$mode "$CLUSTER_DEPLOY" deploy --plan "$plan" >"$log" 2>&1 || rc=$?
    local want=137
    [[ $mode == INT ]] && want=130
    ((rc == want)) || { sed 's/^/    | /' "$log"; fail "$point:$mode: the deploy exited $rc, not $want"; }
    grep -q "crash point $point reached" "$log" || fail "$point:$mode: the deploy never reached $point"
    ;;
  CUT)
    CLUSTER_DEPLOY_CRASH_AT=$point:STOP "$CLUSTER_DEPLOY" deploy --plan "$plan" >"$log" 2>&1 &
    deployer=$!
    wait_until 120 "the deploy to reach $point" grep -q "crash point $point reached" "$log"
    wait_until 10 "the deploy to stop at $point" eval "[[ \$(awk '{ print \$3 }' /proc/$deployer/stat) == T ]]"
    cut_link "$victim" 8
    sleep 1.5
    kill -CONT "$deployer"
    wait "$deployer" || rc=$?
    # 0: the run got through; 1: it failed on the node cut off; 2: it refused before changing
    # anything (the cut came before its checks). Anything else is a surprise.
    ((rc <= 2)) || { sed 's/^/    | /' "$log"; fail "$point:CUT: the deploy exited $rc after $victim's link was cut"; }
    # The same deploy again once the node's own timer has healed the link (8 s after it was cut).
    # The heal's mark says the cut was in place until the node's own timer removed it.
    wait_until 30 "$victim's link cut and then healed by its own timer" \
      on_node "$victim" "sudo sh -c 'rm /run/$cut_table.healed 2>/dev/null'"
    CUT_NOTE=" ($victim cut off; the deploy exited $rc)"
    ;;
  esac
}

# random_case <plan> <most seconds>: kill -9 at a random moment of the deploy's first <most> seconds.
random_case() {
  local plan=$1 ms rc=0 deployer
  ms=$((100 + RANDOM % ($2 * 1000 - 100)))
  "$CLUSTER_DEPLOY" deploy --plan "$plan" >"$WORK/crash.log" 2>&1 &
  deployer=$!
  sleep "$((ms / 1000)).$(printf '%03d' $((ms % 1000)))"
  if kill -KILL "$deployer" 2>/dev/null; then
    CUT_NOTE=" (killed ${ms} ms in)"
  else
    CUT_NOTE=" (it ended before the kill at ${ms} ms)"
  fi
  wait "$deployer" || rc=$?
}

# Each case with its own writer: the writes it acknowledged are all readable afterwards.
total_writes=0 worst_gap=0 summary=()
for case in "${cases[@]}"; do
  rounds=1 point=${case%%:*} mode=${case#*:}
  [[ $point == random ]] && rounds=$mode
  for ((round = 1; round <= rounds; round++)); do
    n=$((n + 1))
    plan=$(new_change)
    acked=$WORK/acked-$n
    CUT_NOTE=""
    # The writer reaches etcd over SSH: through the servers that keep their link.
    victim=${nodes[n % ${#nodes[@]}]}
    writers=()
    for server in "${servers[@]}"; do
      [[ $mode == CUT && $server == "$victim" ]] || writers+=("$server")
    done
    start_writer "$acked" "${writers[@]}"
    sleep 1
    if [[ $point == random ]]; then
      random_case "$plan" 15
      what="kill -9 $round of $rounds$CUT_NOTE"
    else
      crash_case "$point" "$mode" "$plan"
      what="$point:$mode$CUT_NOTE"
    fi
    runs_current "right after $what, before any other run"
    converges "$plan" "$what"
    sleep 1
    stop_writer
    check_acked "$acked" "${writers[0]}"
    writes=$(wc -l <"$acked")
    gap=$(longest_gap "$acked")
    ((writes > 5)) || fail "$what: only $writes writes were acknowledged"
    awk -v g="$gap" 'BEGIN { exit !(g < 10) }' || fail "$what: no write succeeded for ${gap}s: the group lost its quorum"
    total_writes=$((total_writes + writes))
    worst_gap=$(awk -v a="$worst_gap" -v b="$gap" 'BEGIN { print (b > a ? b : a) }')
    say "$what: converged; $writes writes acknowledged and readable, longest gap ${gap}s"
    summary+=("$what")
  done
done
say "ok: ${#summary[@]} broken deploys, each converged on the next deploy; $total_writes acknowledged writes, 0 lost; longest time without a write ${worst_gap}s"
