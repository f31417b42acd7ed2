#!/usr/bin/env bash
# A deploy that changes every etcd member's config while a client writes all along: every
# acknowledged write survives, at no moment are two members down, the leader restarts last.
# Reports the longest time no write succeeded.
source "$(dirname "$0")/lib.sh"
require_env

mapfile -t servers < <(nodes_in_group servers)
((${#servers[@]} >= 3)) || fail "needs 3 etcd members"
template=$(service_template etcd)
cp "$template" "$WORK/etcd.yaml.in"
echo "# changed by the rollout-under-writes test $(date +%s%N)" >>"$WORK/etcd.yaml.in"
changed=$(plan_variant changed --template "etcd=$WORK/etcd.yaml.in")
original=$(plan_variant original)
unit=$CLUSTER_DEPLOY_NAME-etcd.service

leader=$("$CLUSTER_DEPLOY" leader --plan "$CLUSTER_DEPLOY_PLAN" --service etcd) || fail "no leader before the deploy"
acked=$WORK/acked
start_writer "$acked" "${servers[@]}"
sleep 2
run_helper 0 "$WORK/changed.log" deploy --plan "$changed"
deployed=$(date +%s.%N)
sleep 2
stop_writer

# Every acknowledged write is readable, and the client kept writing until after the deploy.
count=$(wc -l <"$acked")
((count > 10)) || fail "only $count writes were acknowledged"
check_acked "$acked" "${servers[0]}"
awk -v t="$deployed" '$1 > t { found = 1 } END { exit !found }' "$acked" || fail "no write was acknowledged after the deploy"

# Each member's downtime [left active, active again], on the one monotonic clock all local
# nodes share: no two overlap, and the leader's comes last.
declare -A down_from down_to
for node in "${servers[@]}"; do
  from=$(on_node "$node" "systemctl show -p ActiveExitTimestampMonotonic --value $unit")
  to=$(on_node "$node" "systemctl show -p ActiveEnterTimestampMonotonic --value $unit")
  ((to > from)) || fail "$node: etcd was not restarted by the deploy"
  down_from[$node]=$from down_to[$node]=$to
done
for a in "${servers[@]}"; do
  for b in "${servers[@]}"; do
    [[ $a < $b ]] || continue
    if ((down_from[$a] < down_to[$b] && down_from[$b] < down_to[$a])); then
      fail "$a and $b were down at the same time"
    fi
  done
  [[ $a == "$leader" ]] || ((down_to[$a] < down_from[$leader])) || fail "$a restarted after the leader $leader"
done
grep -q "$leader: etcd: leads the group, restarts last" "$WORK/changed.log" || fail "the deploy did not say it kept the leader for last"

longest=$(longest_gap "$acked")
say "ok: $count acknowledged writes all readable; one member down at a time, leader $leader last; longest time without a successful write: ${longest}s"
run_helper 0 "$WORK/original.log" deploy --plan "$original"
