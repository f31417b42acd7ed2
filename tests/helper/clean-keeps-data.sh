#!/usr/bin/env bash
# clean removes units, releases and the node scripts but keeps the services' data; a deploy after it
# brings the cluster back with the data intact.
source "$(dirname "$0")/lib.sh"
require_env

server=$(nodes_in_group servers | head -n 1)
key=$(unique_test_key clean)
etcd_put "$server" "$key" kept
run_helper 0 "$WORK/clean.log" clean --plan "$CLUSTER_DEPLOY_PLAN"
while read -r node group; do
  on_node "$node" "test ! -e /opt/$CLUSTER_DEPLOY_NAME && ! ls /etc/systemd/system/$CLUSTER_DEPLOY_NAME-*.service 2>/dev/null" ||
    fail "$node: clean left releases or units behind"
  on_node "$node" "test ! -e /run/cluster-deploy/scripts" || fail "$node: clean left the node scripts behind"
  on_node "$node" "test -d /var/lib/$CLUSTER_DEPLOY_NAME" || fail "$node: clean removed the data"
done < <(all_nodes)

run_helper 0 "$WORK/deploy.log" deploy --plan "$CLUSTER_DEPLOY_PLAN"
[[ "$(etcd_get "$server" "$key")" == kept ]] || fail "the key written before clean is gone"
etcd_delete "$server" "$key"

run_helper 0 "$WORK/purge.log" clean --plan "$CLUSTER_DEPLOY_PLAN" --purge-data
while read -r node group; do
  on_node "$node" "test ! -e /var/lib/$CLUSTER_DEPLOY_NAME" || fail "$node: clean --purge-data kept the data"
done < <(all_nodes)
run_helper 0 "$WORK/redeploy.log" deploy --plan "$CLUSTER_DEPLOY_PLAN"
say "clean kept the data; redeploy brought it back; --purge-data removed it"
