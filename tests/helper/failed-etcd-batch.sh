#!/usr/bin/env bash
# An etcd config that keeps one member from starting, met in the second batch of the roll: both
# switched members go back to the good release (the failed one first, one at a time), the group
# keeps its quorum all along (a client's writes keep succeeding), the leader never left the good
# release, and kill -9 of a member afterwards restarts the good version.
source "$(dirname "$0")/lib.sh"
require_env

mapfile -t servers < <(nodes_in_group servers)
((${#servers[@]} >= 3)) || fail "needs 3 etcd members"
declare -A good pid
for node in "${servers[@]}"; do
  good[$node]=$(release_of "$node")
  pid[$node]=$(main_pid "$node" etcd)
done
# The roll order: the others in inventory order, the leader last. The second one gets the bad value.
leader=$("$CLUSTER_DEPLOY" leader --plan "$CLUSTER_DEPLOY_PLAN" --service etcd) || fail "no leader"
mapfile -t order < <(without "$leader" "${servers[@]}")
first=${order[0]} bad_node=${order[1]}

# etcd refuses to start when the election timeout is under 5 heartbeats: hb=500 on $bad_node only.
inventory=$(plan_attr 'r.get("inventory")')
mkdir -p "$WORK/inventory"
for file in "$inventory"/*.txt; do
  awk -v bad="$bad_node" '/^#/ || NF == 0 { print; next }
    { split($1, n, ":"); print $0 " hb=" (n[1] == bad ? 500 : 100) }' "$file" >"$WORK/inventory/$(basename "$file")"
done
template=$(service_template etcd)
cp "$template" "$WORK/etcd.yaml.in"
printf 'heartbeat-interval: @hb@\nelection-timeout: 1000\n' >>"$WORK/etcd.yaml.in"
bad=$(plan_variant bad --inventory "$WORK/inventory" --template "etcd=$WORK/etcd.yaml.in")

acked=$WORK/acked
start_writer "$acked" "${servers[@]}"
sleep 2
run_helper 1 "$WORK/bad.log" deploy --plan "$bad" --health-timeout 10
sleep 2
stop_writer

grep -qE "^$first +etcd +restarted +ok" "$WORK/bad.log" || fail "$first (first batch) was not restarted healthy"
grep -qE "^$bad_node +etcd +restarted +FAILED" "$WORK/bad.log" || fail "$bad_node (second batch) did not fail"
for node in "$first" "$bad_node"; do
  grep -qE "^$node +etcd +rolled back" "$WORK/bad.log" || fail "$node was not rolled back"
done
grep -qE "^$leader +etcd +not restarted" "$WORK/bad.log" || fail "the leader $leader should not have been restarted"
[[ "$(main_pid "$leader" etcd)" == "${pid[$leader]}" ]] || fail "the leader $leader was restarted"

member_healthy() { [[ "$(on_node "$1" "curl -s -m 3 http://127.0.0.1:2379/health")" == *'"health":"true"'* ]]; }
for node in "${servers[@]}"; do
  [[ "$(release_of "$node")" == "${good[$node]}" ]] || fail "$node is not on its good release"
  wait_until 30 "$node's etcd is not healthy after the failed roll" member_healthy "$node"
done
check_acked "$acked" "$leader"
gap=$(longest_gap "$acked")
awk -v g="$gap" 'BEGIN { exit !(g < 8) }' || fail "writes stopped for ${gap}s: the group lost its quorum"

on_node "$leader" "sudo kill -9 ${pid[$leader]}"
wait_until 30 "$leader was not restarted after kill -9" \
  eval '[[ "$(main_pid "$leader" etcd)" != "${pid[$leader]}" && "$(main_pid "$leader" etcd)" != 0 ]]'
[[ "$(exe_release_of "$leader" etcd)" == "${good[$leader]}" ]] || fail "$leader restarted on another release"
wait_until 30 "$leader did not rejoin" member_healthy "$leader"
say "ok: $bad_node failed in the second batch; $bad_node and $first went back; longest write gap ${gap}s; $leader (kill -9) restarted on ${good[$leader]}"
