# shellcheck shell=bash
# local-cluster: the host side of the network (bridge, per-node namespace and veth, sysctls).
# Sourced by local-cluster (beside it); uses its conventions and messages. See docs/local-cluster.md.

netns_of()   { echo "$NETNS_PREFIX$1"; }
veth_of()    { echo "$VETH_PREFIX${1##*.}"; }          # by address: cdlc11 for .11

check_bridge_ownership() {
    if ip link show dev "$BRIDGE" >/dev/null 2>&1 && [[ ! -f $BRIDGE_MARKER ]]; then
        usage_error "interface $BRIDGE exists but was not created by $PROG (no marker $BRIDGE_MARKER); remove it or pick another host"
    fi
}

# Errors if another host interface (not our bridge) holds the bridge address or a node address.
check_addresses_free() {
    local held dev addr a
    held=$(ip -o -4 addr show | awk '{ split($4, a, "/"); print $2, a[1] }')
    while read -r dev addr; do
        [[ $dev == "$BRIDGE" ]] && continue
        [[ $addr == "$BRIDGE_ADDR" ]] && usage_error "address $BRIDGE_ADDR (local cluster bridge) is already in use on host interface $dev"
        for a in "${NODE_ADDRS[@]}"; do
            [[ $a == "$addr" ]] && usage_error "address $a is already in use on host interface $dev"
        done
    done <<<"$held"
    return 0
}

raise_sysctls() {
    local cur_i cur_w
    cur_i=$(sysctl -n fs.inotify.max_user_instances)
    cur_w=$(sysctl -n fs.inotify.max_user_watches)
    if [[ ! -f $SYSCTL_SAVED ]]; then
        printf 'fs.inotify.max_user_instances=%s\nfs.inotify.max_user_watches=%s\n' "$cur_i" "$cur_w" >"$SYSCTL_SAVED"
    fi
    (( cur_i >= WANT_INOTIFY_INSTANCES )) || sysctl -q -w fs.inotify.max_user_instances="$WANT_INOTIFY_INSTANCES"
    (( cur_w >= WANT_INOTIFY_WATCHES ))   || sysctl -q -w fs.inotify.max_user_watches="$WANT_INOTIFY_WATCHES"
}

restore_sysctls() {
    [[ -f $SYSCTL_SAVED ]] || return 0
    local kv
    while IFS= read -r kv; do
        [[ -n $kv ]] && sysctl -q -w "$kv"
    done <"$SYSCTL_SAVED"
    rm -f "$SYSCTL_SAVED"
}

ensure_bridge() {
    if ! ip link show dev "$BRIDGE" >/dev/null 2>&1; then
        ip link add name "$BRIDGE" type bridge
        : >"$BRIDGE_MARKER"
    fi
    ip addr replace "$BRIDGE_ADDR/24" dev "$BRIDGE"
    ip link set dev "$BRIDGE" up
}

# Network namespace cdlc-<node> with eth0 = ADDR/24 and lo up, no default route;
# the host end of the veth pair sits on the bridge.
setup_node_network() {
    local name=$1 addr=$2 ns veth
    ns=$(netns_of "$name")
    veth=$(veth_of "$addr")
    ip netns del "$ns" 2>/dev/null || true
    ip link del dev "$veth" 2>/dev/null || true
    ip netns add "$ns"
    ip link add name "$veth" type veth peer name eth0 netns "$ns"
    ip link set dev "$veth" master "$BRIDGE" up
    ip -n "$ns" link set dev lo up
    ip -n "$ns" addr add "$addr/24" dev eth0
    ip -n "$ns" link set dev eth0 up
}

# Deletes stray namespaces and veths of our naming scheme (e.g. of a node whose state dir
# is gone), then the bridge if we created it.
remove_network() {
    local strays=() name
    mapfile -t strays < <(ip netns list 2>/dev/null | awk '{ print $1 }' | grep "^$NETNS_PREFIX" || true)
    for name in "${strays[@]}"; do ip netns del "$name" || warn "cannot delete netns $name"; done
    mapfile -t strays < <(ip -o link show type veth 2>/dev/null | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }' \
                            | grep -E "^${VETH_PREFIX}[0-9]+\$" || true)
    for name in "${strays[@]}"; do ip link del dev "$name" || warn "cannot delete link $name"; done
    if [[ -f $BRIDGE_MARKER ]]; then
        ip link del dev "$BRIDGE" 2>/dev/null || true
        rm -f "$BRIDGE_MARKER"
    elif ip link show dev "$BRIDGE" >/dev/null 2>&1; then
        warn "leaving $BRIDGE alone: it was not created by $PROG"
    fi
}
