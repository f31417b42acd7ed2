#!/usr/bin/env bash
# Bad input gets a one-line error and exit 2 before any node is touched; shell
# metacharacters in arguments stay arguments on the node.
source "$(dirname "$0")/lib.sh"
require_env

before=$(fingerprints)
run_helper 2 "$WORK/service.log" deploy --plan "$CLUSTER_DEPLOY_PLAN" --service nope
grep -q "^cluster-deploy: error: unknown service 'nope' (known: etcd, worker)$" "$WORK/service.log" || fail "unknown service"

variant=$(plan_variant missing --program "worker=$WORK/no-such-binary")
run_helper 2 "$WORK/binary.log" deploy --plan "$variant"
grep -q "program $WORK/no-such-binary does not exist" "$WORK/binary.log" || fail "missing binary"

inventory=$(plan_attr 'r.get("inventory")')
mkdir -p "$WORK/inventory"
cp "$inventory"/*.txt "$WORK/inventory/"
echo 'broken;node:10.213.77.99' >>"$WORK/inventory/workers.txt"
line=$(wc -l <"$WORK/inventory/workers.txt")
variant=$(plan_variant malformed --inventory "$WORK/inventory")
run_helper 2 "$WORK/inventory.log" deploy --plan "$variant"
grep -q "$WORK/inventory/workers.txt:$line: bad node name 'broken;node'" "$WORK/inventory.log" || fail "malformed inventory"

server=$(nodes_in_group servers | head -n 1)
marker=/tmp/cluster-deploy-injected
on_node "$server" "sudo rm -f $marker"
"$CLUSTER_DEPLOY" logs --plan "$CLUSTER_DEPLOY_PLAN" --node "$server" --since ";touch $marker;" >/dev/null 2>&1 || true
"$CLUSTER_DEPLOY" logs --plan "$CLUSTER_DEPLOY_PLAN" --node "$server" --since "\$(touch $marker)" >/dev/null 2>&1 || true
on_node "$server" "test ! -e $marker" || fail "an injected command ran on $server"

[[ "$(fingerprints)" == "$before" ]] || fail "a service changed although every command was refused"
say "bad input refused with exit 2; injected commands stayed arguments"
