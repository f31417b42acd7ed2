#!/usr/bin/env bash
# etcd is declared SERIAL 1: a changed etcd config restarts one member at a time, each
# healthy before the next, and the Raft group answers all along.
source "$(dirname "$0")/lib.sh"
require_env

serial=$(plan_attr 'r.find("service[@name=\"etcd\"]").get("serial")')
[[ "$serial" == 1 ]] || fail "etcd is not declared SERIAL 1 in the plan (serial='$serial')"
template=$(service_template etcd)
cp "$template" "$WORK/etcd.yaml.in"
echo "# changed by the rolling-restart test $(date +%s%N)" >>"$WORK/etcd.yaml.in"
changed=$(plan_variant changed --template "etcd=$WORK/etcd.yaml.in")
original=$(plan_variant original)
servers=$(nodes_in_group servers | wc -l)

before=$(fingerprints)
run_helper 0 "$WORK/changed.log" deploy --plan "$changed"
[[ $(grep -c 'etcd: rolling restart, 1 node(s): ' "$WORK/changed.log") -eq $servers ]] ||
  fail "expected $servers one-node batches for etcd"
while read -r node service pid restarts; do
  old_pid=$(awk -v n="$node" '$1 == n { print $3 }' <<<"$before")
  [[ $service != etcd || "$pid" != "$old_pid" ]] || fail "$node: etcd was not restarted"
done < <(fingerprints)
# Each member became active only after the previous one was healthy again.
previous=0
while read -r node; do
  since=$(on_node "$node" "systemctl show -p ActiveEnterTimestampMonotonic --value $CLUSTER_DEPLOY_NAME-etcd.service")
  ((since > previous)) || fail "$node: etcd restarted before the member before it"
  previous=$since
done < <(grep -oE '^[A-Za-z0-9._-]+: etcd: rolling restart' "$WORK/changed.log" | cut -d: -f1)
leader=$(etcd_post "$(nodes_in_group servers | head -n 1)" /v3/maintenance/status '{}' | json 'd["leader"]')
[[ -n "$leader" && "$leader" != 0 ]] || fail "no Raft leader after the rolling restart"

run_helper 0 "$WORK/back.log" deploy --plan "$original"
say "etcd rolled one member at a time; the group has a leader"
