#!/usr/bin/env bash
# The etcd servers form one Raft cluster: exactly one voting member per node of the `servers` group
# (named after the nodes), no learners, and every server reports the same leader, one of the members.
source "$(dirname "$0")/lib.sh"
require_env

mapfile -t servers < <(nodes_in_group servers)
((${#servers[@]} > 0)) || fail "no node in group 'servers' in $CLUSTER_DEPLOY_NODES"

# Prints "<member count> <learner count> <sorted names> <sorted ids>" as seen by server $1.
members_seen_by() {
  etcd_post "$1" /v3/cluster/member/list '{}' | json '" ".join([
    str(len(d["members"])),
    str(sum(1 for m in d["members"] if m.get("isLearner"))),
    ",".join(sorted(m.get("name", "") for m in d["members"])),
    ",".join(sorted(m["ID"] for m in d["members"]))])'
}

leader_seen_by() {
  etcd_post "$1" /v3/maintenance/status '{}' | json 'd.get("leader", "0")'
}

expected_names=$(printf '%s\n' "${servers[@]}" | sort | paste -sd,)

check_members() {
  local count learners names ids
  read -r count learners names ids < <(members_seen_by "${servers[0]}") || return 1
  say "members: $count ($names), learners: $learners"
  [[ "$count" == "${#servers[@]}" && "$learners" == 0 && "$names" == "$expected_names" ]] || return 1
  member_ids=$ids
}

check_one_leader() {
  local server leader leaders=()
  for server in "${servers[@]}"; do
    leader=$(leader_seen_by "$server") || return 1
    leaders+=("$leader")
  done
  say "leader as seen by ${servers[*]}: ${leaders[*]}"
  [[ "${leaders[0]}" != 0 ]] || return 1
  for leader in "${leaders[@]}"; do
    [[ "$leader" == "${leaders[0]}" ]] || return 1
  done
  [[ ",$member_ids," == *",${leaders[0]},"* ]] || fail "leader ${leaders[0]} is not a member ($member_ids)"
}

member_ids=""
wait_until 30 "expected ${#servers[@]} voting members named $expected_names and no learners" check_members
# Right after a (re)start an election may still be running: allow it a few seconds to settle.
wait_until 30 "the servers do not agree on one leader" check_one_leader
say "ok: ${#servers[@]} voting members, one leader"
