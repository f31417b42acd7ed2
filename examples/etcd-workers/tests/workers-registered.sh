#!/usr/bin/env bash
# Every worker registers in etcd (node name, and the release its node's /opt/<cluster>/current
# points to) and keeps publishing results: blocks_done grows between two reads.
source "$(dirname "$0")/lib.sh"
require_env

mapfile -t servers < <(nodes_in_group servers)
mapfile -t workers < <(nodes_in_group workers)
((${#servers[@]} > 0)) || fail "no node in group 'servers'"
((${#workers[@]} > 0)) || fail "no node in group 'workers'"
server=${servers[0]}

registration_of() {
  etcd_get "$server" "/$CLUSTER_DEPLOY_NAME/workers/$1"
}

# Sets `blocks` to the blocks_done that worker $1 last published; fails while there is none.
read_blocks_done() {
  local result
  result=$(etcd_get "$server" "/$CLUSTER_DEPLOY_NAME/results/$1") || return 1
  [[ -n "$result" ]] || return 1
  blocks=$(json 'd["blocks_done"]' <<<"$result")
}

check_registered() {
  local worker=$1 expected_release=$2 registration node release
  registration=$(registration_of "$worker") || return 1
  [[ -n "$registration" ]] || return 1
  node=$(json 'd["node"]' <<<"$registration")
  release=$(json 'd["release"]' <<<"$registration")
  [[ "$node" == "$worker" ]] || fail "$worker registered as node '$node': $registration"
  # A worker restarted by a newer deploy re-registers: wait for the release to match.
  [[ "$release" == "$expected_release" ]] || { say "$worker: release '$release', want '$expected_release'"; return 1; }
}

blocks=0
first_blocks=()
deadline=$((SECONDS + 60))
for worker in "${workers[@]}"; do
  target=$(on_node "$worker" "readlink /opt/$CLUSTER_DEPLOY_NAME/current") || fail "$worker: no /opt/$CLUSTER_DEPLOY_NAME/current link"
  release=$(basename "$target")
  wait_until $((deadline - SECONDS)) "$worker did not register with release $release" check_registered "$worker" "$release"
  wait_until $((deadline - SECONDS)) "$worker published no result" read_blocks_done "$worker"
  first_blocks+=("$blocks")
  say "$worker: registered (release $release), blocks_done ${first_blocks[-1]}"
done

# Workers do about one block per second: every count must have grown within a few seconds.
grown() {
  local i
  for i in "${!workers[@]}"; do
    read_blocks_done "${workers[$i]}" || return 1
    ((blocks > first_blocks[i])) || return 1
  done
}
wait_until 20 "blocks_done did not grow on every worker" grown
say "ok: ${#workers[@]} workers registered and working"
