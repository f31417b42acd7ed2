#!/usr/bin/env bash
# SIGKILL of the etcd leader while a client writes: a new leader is elected within a bounded
# time, systemd restarts the killed member, and no acknowledged write is lost.
source "$(dirname "$0")/lib.sh"
require_env
require_faults

mapfile -t servers < <(nodes_in_group servers)
((${#servers[@]} >= 3)) || fail "needs at least 3 servers"
leader=$(fault leader --service etcd)
old_pid=$(main_pid "$leader" etcd)
term_before=$(etcd_status "$leader" raftTerm)
mapfile -t followers < <(without "$leader" "${servers[@]}")
say "leader $leader (pid $old_pid, term $term_before)"

# A client writing all along, through every member in turn; it notes each acknowledged key.
prefix=$(unique_test_key kill-leader)
acked=$(mktemp)
stop=$(mktemp -u)
trap 'touch "$stop"; rm -f "$acked"' EXIT
(
  i=0
  while [[ ! -e $stop ]] && ((i < 400)); do
    node=${servers[i % ${#servers[@]}]}
    if etcd_put "$node" "$prefix/$i" "v$i" 2>/dev/null; then echo "$prefix/$i" >>"$acked"; fi
    i=$((i + 1))
  done
) &
writer=$!
sleep 2

killed=$(fault kill leader --service etcd)
[[ "$killed" == "$leader" ]] || fail "kill leader hit '$killed', but the leader was $leader"

new_leader() {
  local node term id
  for node in "${followers[@]}"; do
    term=$(etcd_status "$node" raftTerm 2>/dev/null) || continue
    id=$(etcd_status "$node" leader 2>/dev/null) || continue
    ((term > term_before)) && [[ "$id" != 0 ]] && return 0
  done
  return 1
}
wait_until 20 "no new leader was elected within 20 s of killing $leader" new_leader
say "new leader: $(fault leader --service etcd) (term > $term_before)"
restarted() {
  local pid
  pid=$(main_pid "$leader" etcd) && [[ "$pid" != 0 && "$pid" != "$old_pid" ]]
}
wait_until 30 "systemd did not restart etcd on $leader after the kill" restarted

sleep 2
touch "$stop"
wait "$writer" || true
count=$(wc -l <"$acked")
((count > 0)) || fail "no write was acknowledged at all"
while read -r key; do
  [[ "$(etcd_get "${followers[0]}" "$key")" == "v${key##*/}" ]] || fail "acknowledged write $key is lost"
done <"$acked"
say "ok: $leader killed (pid $old_pid -> $(main_pid "$leader" etcd)), $count acknowledged writes all readable"
