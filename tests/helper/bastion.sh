#!/usr/bin/env bash
# Bastion: nodes reachable only through one jump node. The helper runs in a network
# namespace of its own whose only route is to the jump node (so direct ssh to any other
# node fails), with an ssh_config that says `ProxyJump <jump>` for every other node.
# Deploy and status go through the jump node; a dead jump host is a clear error.
source "$(dirname "$0")/lib.sh"
require_env
[[ -n "${CLUSTER_DEPLOY_SSH_CONFIG:-}" ]] || { say "no ssh_config of ours to vary: nothing to check"; exit 0; }
[[ $(id -u) -eq 0 ]] && command -v ip >/dev/null || { say "SKIP: needs root and iproute2 (network namespace)"; exit 77; }

jump=$(nodes_in_group servers | head -n 1)
jump_address=$(awk -v n="$jump" '$1 == n { print $2 }' "$CLUSTER_DEPLOY_NODES")
target=$(nodes_in_group workers | head -n 1)
prefix=${jump_address%.*}
client=
for last in $(seq 250 -1 200); do
  if ! awk '{ print $2 }' "$CLUSTER_DEPLOY_NODES" | grep -qx "$prefix.$last"; then client=$prefix.$last; break; fi
done
[[ -n $client ]] || fail "no free address for the client in $prefix.0/24"

# The client namespace: one veth on the local cluster's bridge, one /32 route to the jump node.
ns=cdbastion$$
veth=cdb$$
bridge=$(ip -o -4 addr show | awk -v p="$prefix.1/" 'index($4, p) == 1 { print $2 }')
[[ -n $bridge ]] || fail "no host interface holds $prefix.1 (is the local cluster up?)"
cleanup() {
  ip netns del "$ns" 2>/dev/null || true
  ip link del "$veth" 2>/dev/null || true
  drop_work
}
trap cleanup EXIT
ip netns add "$ns"
ip link add "$veth" type veth peer name eth0 netns "$ns"
ip link set "$veth" master "$bridge" up
ip -n "$ns" link set lo up
ip -n "$ns" link set eth0 up
ip -n "$ns" addr add "$client/32" dev eth0
ip -n "$ns" route add "$jump_address/32" dev eth0
in_ns() { ip netns exec "$ns" "$@"; }

# Only the jump node is reachable from the client.
in_ns timeout 10 ssh -F "$CLUSTER_DEPLOY_SSH_CONFIG" "$jump" true || fail "the client cannot reach the jump node $jump"
if in_ns timeout 10 ssh -F "$CLUSTER_DEPLOY_SSH_CONFIG" "$target" true 2>"$WORK/direct.err"; then
  fail "the client reaches $target directly: the bastion setup does not isolate"
fi
say "direct ssh to $target from the client fails: $(head -n 1 "$WORK/direct.err")"

# Every node but the jump node: ProxyJump <jump> (in its Host block).
awk -v j="$jump" '
  { print }
  $1 == "Host" { behind = 1; for (i = 2; i <= NF; i++) if ($i == j) behind = 0 }
  behind && $1 == "HostName" { print "    ProxyJump " j; behind = 0 }' "$CLUSTER_DEPLOY_SSH_CONFIG" >"$WORK/ssh_config"
grep -q "ProxyJump $jump" "$WORK/ssh_config" || fail "could not add ProxyJump lines"
variant=$(plan_variant bastion --ssh-config "$WORK/ssh_config")

code=0
in_ns "$CLUSTER_DEPLOY" deploy --plan "$variant" >"$WORK/deploy.log" 2>&1 || code=$?
sed 's/^/    | /' "$WORK/deploy.log"
[[ $code -eq 0 ]] || fail "deploy through the jump node exited $code"
grep -q '^nothing changed on any node$' "$WORK/deploy.log" || fail "deploy through the jump node did not reach every node"
code=0
in_ns "$CLUSTER_DEPLOY" status --plan "$variant" >"$WORK/status.log" 2>&1 || code=$?
sed 's/^/    | /' "$WORK/status.log"
[[ $code -eq 0 ]] || fail "status through the jump node exited $code"
while read -r node group; do
  grep -qE "^$node +[a-z]+ +active \(running\)" "$WORK/status.log" || fail "status through the jump node lacks $node"
done < <(all_nodes)
sshd_log=$(on_node "$target" "sudo journalctl -u ssh --since '-2min' --no-pager")
grep -q "Accepted publickey for .* from $jump_address " <<<"$sshd_log" ||
  fail "$target's sshd saw no login from the jump node $jump ($jump_address)"

# A jump host that does not answer: the error names the jump, the node fails alone.
sed "s/ProxyJump $jump\$/ProxyJump deploy@$prefix.254:22/" "$WORK/ssh_config" >"$WORK/dead_jump_ssh_config"
variant=$(plan_variant dead-jump --ssh-config "$WORK/dead_jump_ssh_config")
code=0
in_ns "$CLUSTER_DEPLOY" status --plan "$variant" --node "$jump,$target" >"$WORK/dead.log" 2>&1 || code=$?
sed 's/^/    | /' "$WORK/dead.log"
[[ $code -eq 1 ]] || fail "status with a dead jump host exited $code, expected 1"
grep -qE "^$target: error: .*cannot connect through the jump host \(ProxyCommand/ProxyJump: (exec )?ssh -F '$WORK/dead_jump_ssh_config' .*$prefix\.254" "$WORK/dead.log" ||
  fail "the error does not name the jump host"
grep -qE "^$jump +[a-z]+ +active \(running\)" "$WORK/dead.log" || fail "the jump node itself was not reported"
say "deploy and status through ProxyJump via $jump; a dead jump host is reported"
