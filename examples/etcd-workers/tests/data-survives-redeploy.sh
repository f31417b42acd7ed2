#!/usr/bin/env bash
# Deploying again with nothing changed keeps the data and restarts nothing: a key written before
# `cluster-deploy deploy` reads back on every server, and every service's main PID is unchanged.
source "$(dirname "$0")/lib.sh"
require_env

mapfile -t servers < <(nodes_in_group servers)
((${#servers[@]} > 0)) || fail "no node in group 'servers'"

# The unit each group runs (the example cluster's services, see ../CMakeLists.txt).
declare -A service_of_group=([servers]=etcd [workers]=worker)

main_pid() {
  on_node "$1" "systemctl show -p MainPID --value $(shell_quote "$2")"
}

# "node unit pid" for every service instance.
main_pids() {
  local node group unit
  while read -r node group; do
    [[ -n "${service_of_group[$group]:-}" ]] || continue
    unit="$CLUSTER_DEPLOY_NAME-${service_of_group[$group]}"
    echo "$node $unit $(main_pid "$node" "$unit")"
  done < <(all_nodes)
}

key=$(unique_test_key redeploy)
value="written before redeploy by $$ at $(date -u +%FT%TZ)"
wait_until 30 "cannot write $key" etcd_put "${servers[0]}" "$key" "$value"
say "wrote $key"

before=$(main_pids)
while read -r node unit pid; do
  [[ "$pid" =~ ^[1-9][0-9]*$ ]] || fail "$node: $unit is not running before the redeploy (MainPID '$pid')"
done <<<"$before"

say "running: $CLUSTER_DEPLOY deploy --plan $CLUSTER_DEPLOY_PLAN"
"$CLUSTER_DEPLOY" deploy --plan "$CLUSTER_DEPLOY_PLAN" || fail "cluster-deploy deploy exited $?"

for server in "${servers[@]}"; do
  got=$(etcd_get "$server" "$key") || fail "$server: cannot read $key after the redeploy"
  [[ "$got" == "$value" ]] || fail "$server: $key is '$got' after the redeploy, want '$value'"
done
say "key reads back on ${#servers[@]} servers"

after=$(main_pids)
if [[ "$after" != "$before" ]]; then
  diff <(echo "$before") <(echo "$after") >&2 || true
  fail "a service restarted during a redeploy that changed nothing (node unit MainPID before/after above)"
fi
etcd_delete "${servers[0]}" "$key"
say "ok: data kept, nothing restarted"
