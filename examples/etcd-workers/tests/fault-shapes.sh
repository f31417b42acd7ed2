#!/usr/bin/env bash
# Partition shapes, as Jepsen has them: halves, a bridge, a majorities ring. Each is checked as
# the nodes see it (which node reaches which, by TCP to its sshd), etcd keeps committing writes
# where a majority is reachable, and every shape heals.
source "$(dirname "$0")/lib.sh"
require_env
require_faults

mapfile -t servers < <(nodes_in_group servers)
((${#servers[@]} == 3)) || fail "written for 3 servers (the example's), not ${#servers[@]}"
mapfile -t everyone < <(all_nodes | awk '{ print $1 }')
declare -A address
while read -r name addr _; do address[$name]=$addr; done < <(awk '$1 !~ /^#/ && NF >= 3' "$CLUSTER_DEPLOY_NODES")
trap 'fault heal >/dev/null 2>&1 || true' EXIT

# reaches <node> <nodes...>: how many of the other nodes <node> reaches over TCP (their sshd);
# a link cut either way fails the connection.
reaches() {
  local node=$1 other script="n=0; "
  shift
  for other in "$@"; do
    [[ $other == "$node" ]] && continue
    script+="timeout 1 bash -c '</dev/tcp/${address[$other]}/22' 2>/dev/null && n=\$((n + 1)); "
  done
  on_node "$node" "${script}echo \$n"
}

# counts <nodes...>: "node:reached" for each node, against the same nodes.
counts() {
  local node
  for node in "$@"; do echo "$node:$(reaches "$node" "$@")"; done
}

# reaching <count>: the node of `seen` that reaches <count> others.
reaching() { printf '%s\n' "${seen[@]}" | awk -F: -v n="$1" '$2 == n { print $1 }'; }
# spread: the counts of `seen`, sorted ("0 1 1 ").
spread() { printf '%s\n' "${seen[@]}" | awk -F: '{ print $2 }' | sort | tr '\n' ' '; }

# committed <node>: a write through <node> commits within 30 s.
committed() {
  local key
  key=$(unique_test_key "shape")
  wait_until 30 "no write through $1 committed under the $shape shape" etcd_put "$1" "$key" v
}

shape=halves
fault partition servers --shape halves --seed 11 --for 120 >/dev/null
mapfile -t seen < <(counts "${servers[@]}")
lone=$(reaching 0)
[[ $(spread) == "0 1 1 " ]] ||
  fail "halves of 3 servers: expected one alone and two together, saw ${seen[*]}"
mapfile -t pair < <(without "$lone" "${servers[@]}")
committed "${pair[0]}"
if etcd_put "$lone" "$(unique_test_key lone)" x 2>/dev/null; then
  fail "a write through $lone, alone in its half, committed"
fi
say "halves: $lone alone, ${pair[*]} together and committing (${seen[*]})"
fault heal >/dev/null

shape=bridge
fault partition servers --shape bridge --seed 11 --for 120 >/dev/null
mapfile -t seen < <(counts "${servers[@]}")
bridge=$(reaching 2)
[[ $(spread) == "1 1 2 " ]] ||
  fail "bridge of 3 servers: expected one reaching both and two reaching one, saw ${seen[*]}"
committed "$bridge"
say "bridge: $bridge reaches both halves and commits (${seen[*]})"
fault heal >/dev/null

shape=majorities-ring
fault partition servers workers --shape majorities-ring --seed 11 --for 120 >/dev/null
n=${#everyone[@]}
mapfile -t seen < <(counts "${everyone[@]}")
for entry in "${seen[@]}"; do
  # With itself, a node sees a majority of the n nodes, and not all of them.
  (( ${entry#*:} + 1 >= n / 2 + 1 && ${entry#*:} < n - 1 )) ||
    fail "majorities ring of $n nodes: ${entry%:*} reaches ${entry#*:} others (${seen[*]})"
done
committed "${servers[0]}"
say "majorities-ring: every node reaches a majority of the $n, none all of them (${seen[*]}); etcd commits"
fault heal >/dev/null

mapfile -t seen < <(counts "${servers[@]}")
[[ $(printf '%s\n' "${seen[@]}" | awk -F: '{ print $2 }' | sort -u) == 2 ]] ||
  fail "after heal the servers do not all reach each other: ${seen[*]}"
say "ok: halves, bridge and majorities ring seen as shaped; all healed"
