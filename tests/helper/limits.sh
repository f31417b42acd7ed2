#!/usr/bin/env bash
# LIMITS: a service declared with systemd resource settings gets them in its unit, and
# the rlimits apply to its running process (what /proc/<pid>/limits shows). Deployed as a
# separate cluster (its own units, release folder and user) on one worker, then cleaned.
source "$(dirname "$0")/lib.sh"
require_env

node=$(nodes_in_group workers | head -n 1)
cluster=cdlimits
printf '#!/bin/sh\nexec sleep 100000\n' >"$WORK/idle"
chmod +x "$WORK/idle"
plan=$(plan_variant limits --cluster $cluster --only worker --program "worker=$WORK/idle" --health-exec worker=true \
  --limit worker=MemoryMax=32M --limit worker=TasksMax=50 --limit worker=LimitNOFILE=1234:2345 --limit worker=LimitCORE=0)
trap '"$CLUSTER_DEPLOY" clean --plan "$plan" --node "$node" >/dev/null 2>&1 || true; drop_work' EXIT

run_helper 0 "$WORK/deploy.log" deploy --plan "$plan" --node "$node" --health-timeout 30
unit=/etc/systemd/system/$cluster-worker.service
for setting in MemoryMax=32M TasksMax=50 LimitNOFILE=1234:2345 LimitCORE=0; do
  on_node "$node" "grep -qx '$setting' $unit" || fail "$unit on $node lacks $setting"
done
[[ $(on_node "$node" "systemctl show -p MemoryMax -p TasksMax --value $cluster-worker.service" | paste -sd' ') == "33554432 50" ]] ||
  fail "systemd on $node does not show MemoryMax=32M TasksMax=50 for the service"
pid=$(on_node "$node" "systemctl show -p MainPID --value $cluster-worker.service")
limits=$(on_node "$node" "cat /proc/$pid/limits")
grep -qE '^Max open files +1234 +2345 ' <<<"$limits" || fail "the service's open-files limit is not 1234/2345: $limits"
grep -qE '^Max core file size +0 +0 ' <<<"$limits" || fail "the service's core limit is not 0: $limits"
run_helper 0 "$WORK/clean.log" clean --plan "$plan" --node "$node"
say "unit settings and rlimits of LIMITS apply on $node"
