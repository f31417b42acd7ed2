#!/usr/bin/env bash
# workers-scale.sh <local-cluster tool> [<workers>]: workers (a group without member hooks) scale
# out and in with one edit of workers.txt and one deploy each, as the deploy target does it
# (local-cluster up with the new inventory, then the deploy): 3 -> <workers> (4-10, default 10)
# -> 3 workers under 3 etcd servers.
# 3 -> N: the new workers start and register (their HEALTH), every worker's shard count is N,
# the servers are not restarted. N -> 3: the three left have a shard count of 3, the deploy
# names each worker that left the inventory and still runs it, and putting those in a group
# that runs no service retires them (units gone, data kept).
# On 3 + N nodes of its own (booted here, taken down at the end), with the example's plan as a
# cluster of its own ("scale"), so the example cluster is not touched.
source "$(dirname "$0")/lib.sh"
require_env
tool=$1
most=${2:-10}
((most >= 4 && most <= 10)) || fail "workers: 4 to 10, not $most"
if [[ ! -x $tool || "$(plan_attr 'r.find("ssh").get("config")')" != */local-cluster/ssh_config ]]; then
  echo "$TEST_NAME: skipped: it boots nodes of its own, which only the local cluster can"
  exit 77
fi

lc=$WORK/lc
# Addresses in the local cluster's subnet (that of the example's nodes): servers .51-.53,
# workers .61-.60+N.
subnet=$(awk '$1 !~ /^#/ && NF >= 3 { sub(/\.[0-9]+$/, "", $2); print $2; exit }' "$CLUSTER_DEPLOY_NODES")
servers() { for i in 1 2 3; do echo "ss$i:$subnet.$((50 + i)) image=bookworm"; done; }
workers() { for ((i = 1; i <= $1; i++)); do echo "sw$i:$subnet.$((60 + i)) shard=$((i - 1)) image=bookworm"; done; }
# inventory <name> <workers> [<spare workers>...]: servers, the first <workers> workers, and the
# named workers in a group "spare" that runs no service; prints the plan for it.
inventory() {
  local name=$1 count=$2 node
  shift 2
  mkdir -p "$WORK/inv-$name"
  servers >"$WORK/inv-$name/servers.txt"
  workers "$count" >"$WORK/inv-$name/workers.txt"
  if (($# > 0)); then
    for node in "$@"; do workers "$most" | grep "^$node:"; done >"$WORK/inv-$name/spare.txt"
  fi
  # One plan folder, as one build tree has: its member records stay.
  python3 "$HELPER_DIR/plan_variant.py" "$CLUSTER_DEPLOY_PLAN" "$WORK/plan" --cluster scale \
    --inventory "$WORK/inv-$name" --ssh-config "$lc/ssh_config" >/dev/null
  echo "$WORK/plan/plan.xml"
}
# up <name>: the local cluster's up with that inventory, as the deploy target runs it first.
up() {
  "$tool" up --inventory "$WORK/inv-$1" --out "$lc" --helper "$CLUSTER_DEPLOY" 2>&1 | tail -n 1 ||
    fail "local-cluster up with inventory $1 failed"
}
mkdir -p "$WORK/inv-all"
servers >"$WORK/inv-all/servers.txt"
workers "$most" >"$WORK/inv-all/workers.txt"
cleanup() {
  "$tool" down --inventory "$WORK/inv-all" --out "$lc" --helper "$CLUSTER_DEPLOY" >/dev/null 2>&1 || true
  drop_work
}
trap cleanup EXIT
export CLUSTER_DEPLOY_SSH_CONFIG=$lc/ssh_config # on_node: these nodes
shards_are() { # shards_are <count> <workers...>: each worker's config says shards=<count>
  local count=$1 node
  shift
  for node in "$@"; do
    on_node "$node" "sudo grep -qx shards=$count /opt/scale/current/etc/worker/worker.conf" ||
      fail "$node's worker.conf does not say shards=$count"
  done
}

plan=$(inventory three 3)
up three
run_helper 0 "$WORK/three.log" deploy --plan "$plan"
shards_are 3 sw1 sw2 sw3

plan=$(inventory out "$most")
up out
start=$SECONDS
run_helper 0 "$WORK/out.log" deploy --plan "$plan"
out_seconds=$((SECONDS - start))
mapfile -t new < <(seq 4 "$most")
mapfile -t all < <(seq 1 "$most" | sed 's/^/sw/')
for i in "${new[@]}"; do
  [[ $(summary_action "$WORK/out.log" "sw$i" worker) == started ]] || fail "sw$i's worker was not started"
done
for i in 1 2 3; do
  [[ $(summary_action "$WORK/out.log" "ss$i" etcd) == unchanged ]] || fail "scaling the workers out restarted etcd on ss$i"
done
shards_are "$most" "${all[@]}"
run_helper 0 "$WORK/status-out.log" status --plan "$plan"
(($(grep -cE '^sw[0-9]+ +worker +active' "$WORK/status-out.log") == most)) || fail "status does not show $most workers active"

plan=$(inventory three-again 3)
up three-again
start=$SECONDS
run_helper 0 "$WORK/in.log" deploy --plan "$plan"
in_seconds=$((SECONDS - start))
shards_are 3 sw1 sw2 sw3
for i in "${new[@]}"; do
  grep -q "warning: sw$i .* left the inventory; what was deployed there still runs" "$WORK/in.log" ||
    fail "the deploy does not say sw$i left the inventory"
done

mapfile -t spare < <(for i in "${new[@]}"; do echo "sw$i"; done)
plan=$(inventory spare 3 "${spare[@]}")
up spare
run_helper 0 "$WORK/retire.log" deploy --plan "$plan"
for node in "${spare[@]}"; do
  grep -q "^$node: retired: no service of the plan runs here" "$WORK/retire.log" || fail "$node was not retired"
  on_node "$node" "! systemctl is-active -q scale-worker.service && sudo test -d /var/lib/scale/worker" ||
    fail "$node still runs its worker, or its data is gone"
done
say "ok: 3 -> $most -> 3 workers (scale-out deploy ${out_seconds}s, scale-in ${in_seconds}s); the ${#new[@]} left" \
  "named, then retired from a group without services (data kept)"
