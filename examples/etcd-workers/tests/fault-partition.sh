#!/usr/bin/env bash
# One etcd member is cut off from the rest of the cluster: writes through the other members keep
# succeeding, the isolated member takes none; after heal it catches up and holds every
# acknowledged write.
source "$(dirname "$0")/lib.sh"
require_env
require_faults

mapfile -t servers < <(nodes_in_group servers)
((${#servers[@]} >= 3)) || fail "needs at least 3 servers for a majority to keep writing"
isolated=$(fault partition one --service etcd --for 120)
[[ -n "$isolated" ]] || fail "the fault named no node"
mapfile -t majority < <(without "$isolated" "${servers[@]}")
say "cut off $isolated; writing through ${majority[*]}"

# The fault is visible where a user looks first.
"$CLUSTER_DEPLOY" status --plan "$CLUSTER_DEPLOY_PLAN" | grep -E "^$isolated +etcd .*partition" >/dev/null ||
  fail "status does not show the partition on $isolated"

prefix=$(unique_test_key partition)
# If the isolated member led, the others elect a new leader first: wait for the first write.
wait_until 30 "no write through ${majority[0]} succeeded after $isolated was cut off" \
  etcd_put "${majority[0]}" "$prefix/0" v0
acked=("$prefix/0")
for i in $(seq 1 20); do
  node=${majority[i % ${#majority[@]}]}
  etcd_put "$node" "$prefix/$i" "v$i" || fail "write $i through $node failed while only $isolated was cut off"
  acked+=("$prefix/$i")
done

fail_here_if_asked "while $isolated is cut off"

# The partition is real: the isolated member can reach no leader, so it cannot commit a write.
if etcd_put "$isolated" "$prefix/from-isolated" x 2>/dev/null; then
  fail "a write through the isolated member $isolated succeeded: the partition cut nothing"
fi
[[ -z "$(etcd_get_local "$isolated" "$prefix/10")" ]] ||
  fail "$isolated already holds a write made during the partition"

fault heal >/dev/null
say "healed; waiting for $isolated to catch up"
caught_up() {
  local key
  for key in "${acked[@]}"; do
    [[ "$(etcd_get_local "$isolated" "$key" 2>/dev/null)" == "v${key##*/}" ]] || return 1
  done
}
wait_until 60 "$isolated did not catch up with the ${#acked[@]} acknowledged writes" caught_up
say "ok: ${#acked[@]} acknowledged writes during the partition, all on $isolated after heal"
