#!/usr/bin/env bash
# An etcd config that keeps the member from starting: the first batch fails and goes back to
# the good release, the group keeps its quorum all along (writes succeed afterwards), the other
# members never left the good release, and kill -9 of one of them restarts the good version.
source "$(dirname "$0")/lib.sh"
require_env

mapfile -t servers < <(nodes_in_group servers)
((${#servers[@]} >= 3)) || fail "needs 3 etcd members"
release_of() { basename "$(on_node "$1" "readlink /opt/$CLUSTER_DEPLOY_NAME/current")"; }
exe_release_of() {
  on_node "$1" "sudo readlink /proc/\$(systemctl show -p MainPID --value $CLUSTER_DEPLOY_NAME-etcd.service)/exe" |
    sed -n 's|.*/releases/\([^/]*\)/.*|\1|p'
}
declare -A good pid
for node in "${servers[@]}"; do
  good[$node]=$(release_of "$node")
  pid[$node]=$(main_pid "$node" etcd)
done

template=$(plan_attr 'r.find("service[@name=\"etcd\"]/config").get("template")')
cp "$template" "$WORK/etcd.yaml.in"
# etcd refuses to start: the election timeout must be at least 5 heartbeats.
printf 'heartbeat-interval: 1000\nelection-timeout: 100\n' >>"$WORK/etcd.yaml.in"
bad=$(plan_variant bad --template "etcd=$WORK/etcd.yaml.in")
run_helper 1 "$WORK/bad.log" deploy --plan "$bad" --health-timeout 10
failed=$(awk '$2 == "etcd" && $3 == "rolled" { print $1 }' "$WORK/bad.log")
[[ $(wc -w <<<"$failed") -eq 1 ]] || fail "expected exactly one member rolled back, got '$failed'"
[[ $(grep -cE '^[a-z0-9]+ +etcd +not restarted' "$WORK/bad.log") -eq $((${#servers[@]} - 1)) ]] ||
  fail "the other members should not have been restarted"

member_healthy() { [[ "$(on_node "$1" "curl -s -m 3 http://127.0.0.1:2379/health")" == *'"health":"true"'* ]]; }
for node in "${servers[@]}"; do
  [[ "$(release_of "$node")" == "${good[$node]}" ]] || fail "$node is not on its good release"
  wait_until 30 "$node's etcd is not healthy after the failed batch" member_healthy "$node"
done
key=$(unique_test_key failed-batch)
etcd_put "${servers[0]}" "$key" ok || fail "the group takes no write after the failed batch"

other=$(printf '%s\n' "${servers[@]}" | grep -vx "$failed" | head -n 1)
[[ "$(main_pid "$other" etcd)" == "${pid[$other]}" ]] || fail "$other was restarted by the failed deploy"
on_node "$other" "sudo kill -9 ${pid[$other]}"
wait_until 30 "$other was not restarted after kill -9" \
  eval '[[ "$(main_pid "$other" etcd)" != "${pid[$other]}" && "$(main_pid "$other" etcd)" != 0 ]]'
[[ "$(exe_release_of "$other")" == "${good[$other]}" ]] || fail "$other restarted on another release than its good one"
wait_until 30 "$other did not rejoin" member_healthy "$other"
[[ "$(etcd_get "$other" "$key")" == ok ]] || fail "the write made after the failed batch is not readable through $other"
say "ok: $failed failed and went back; quorum kept; $other (kill -9) restarted on ${good[$other]}"
