#!/usr/bin/env bash
# Services of other groups that do not run AFTER each other roll at the same time: with the
# workers not waiting for etcd, a change to both starts rolling the workers while etcd's
# members still restart one at a time, and etcd keeps its one-at-a-time roll and a leader.
source "$(dirname "$0")/lib.sh"
require_env

for service in etcd worker; do
  template=$(service_template "$service")
  cp "$template" "$WORK/$service.in"
  echo "# changed by the parallel-services test $(date +%s%N)" >>"$WORK/$service.in"
done
both=$(plan_variant both --template "etcd=$WORK/etcd.in" --template "worker=$WORK/worker.in" --independent worker)
original=$(plan_variant original)
servers=$(nodes_in_group servers | wc -l)

run_helper 0 "$WORK/both.log" deploy --plan "$both"
first_worker=$(grep -n -m 1 -E '^[A-Za-z0-9._-]+: worker: restarted$' "$WORK/both.log" | cut -d: -f1)
last_etcd=$(grep -n -E '^[A-Za-z0-9._-]+: etcd: restarted$' "$WORK/both.log" | tail -n 1 | cut -d: -f1)
[[ -n $first_worker && -n $last_etcd ]] || fail "expected both etcd and the workers to restart"
((first_worker < last_etcd)) || fail "the workers restarted only after etcd's roll had ended"
[[ $(grep -c 'etcd: rolling restart, 1 node(s): ' "$WORK/both.log") -eq $servers ]] ||
  fail "expected $servers one-node batches for etcd"
leader=$(etcd_post "$(nodes_in_group servers | head -n 1)" /v3/maintenance/status '{}' | json 'd["leader"]')
[[ -n "$leader" && "$leader" != 0 ]] || fail "no Raft leader after the roll"
say "ok: a worker restarted (output line $first_worker) before etcd's last member (line $last_etcd); etcd rolled one member at a time"

run_helper 0 "$WORK/back.log" deploy --plan "$original"
