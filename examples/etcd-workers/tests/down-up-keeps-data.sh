#!/usr/bin/env bash
# `cluster-deploy down` stops every service of the cluster on every node, `up` starts them all
# again, and the data written before survives.
source "$(dirname "$0")/lib.sh"
require_env
require_teardown

mapfile -t servers < <(nodes_in_group servers)
((${#servers[@]} > 0)) || fail "no node in group 'servers'"

# The unit each group runs (the example cluster's services, see ../CMakeLists.txt).
declare -A service_of_group=([servers]=etcd [workers]=worker)

# Active units of this cluster on node $1, one per line (none after `down`).
active_cluster_units() {
  on_node "$1" "systemctl list-units --state=active --no-legend --plain $(shell_quote "$CLUSTER_DEPLOY_NAME-*")" |
    awk '{ print $1 }'
}

check_all_down() {
  local node group units
  while read -r node group; do
    units=$(active_cluster_units "$node") || fail "$node: systemctl list-units failed"
    [[ -z "$units" ]] || fail "$node: still active after down: $(echo $units)"
  done < <(all_nodes)
}

all_up() {
  local node group unit
  while read -r node group; do
    [[ -n "${service_of_group[$group]:-}" ]] || continue
    unit="$CLUSTER_DEPLOY_NAME-${service_of_group[$group]}"
    on_node "$node" "systemctl is-active --quiet $(shell_quote "$unit")" || { say "$node: $unit not active yet"; return 1; }
  done < <(all_nodes)
}

key_is_back() {
  [[ "$(etcd_get "${servers[0]}" "$key" 2>/dev/null)" == "$value" ]]
}

key=$(unique_test_key down-up)
value="written before down by $$ at $(date -u +%FT%TZ)"
wait_until 30 "cannot write $key" etcd_put "${servers[0]}" "$key" "$value"
say "wrote $key"

# If the test stops half-way, bring the cluster back up for the tests that run after it.
trap '"$CLUSTER_DEPLOY" up --plan "$CLUSTER_DEPLOY_PLAN" >/dev/null 2>&1 || true' EXIT

say "running: $CLUSTER_DEPLOY down --plan $CLUSTER_DEPLOY_PLAN"
"$CLUSTER_DEPLOY" down --plan "$CLUSTER_DEPLOY_PLAN" || fail "cluster-deploy down exited $?"
check_all_down
say "no $CLUSTER_DEPLOY_NAME-* unit active on any node"

say "running: $CLUSTER_DEPLOY up --plan $CLUSTER_DEPLOY_PLAN"
"$CLUSTER_DEPLOY" up --plan "$CLUSTER_DEPLOY_PLAN" || fail "cluster-deploy up exited $?"
wait_until 60 "not every unit is active after up" all_up
trap - EXIT
say "every unit active again"

# etcd needs a quorum (a few seconds after a restart) before it answers reads.
wait_until 30 "$key is gone or changed after down/up, want '$value'" key_is_back
etcd_delete "${servers[0]}" "$key"
say "ok: down stopped everything, up restarted it, data kept"
