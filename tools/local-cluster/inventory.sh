# shellcheck shell=bash
# local-cluster: the inventory, read through the cluster-deploy helper, so the local cluster
# accepts exactly what a deploy accepts (one parser, one set of name rules: docs/using.md "Names").
# Sourced by local-cluster (beside it); uses its conventions and messages. See docs/local-cluster.md.

# The helper: --helper, else cluster-deploy beside this command (as installed), else on the PATH.
find_helper() {
    local beside
    beside=$(dirname "$0")/cluster-deploy
    if [[ -n $HELPER ]]; then
        [[ -x $HELPER ]] || usage_error "--helper $HELPER is not an executable"
        echo "$HELPER"
    elif [[ -x $beside ]]; then
        echo "$beside"
    else
        command -v cluster-deploy \
            || usage_error "the cluster-deploy helper (it reads the inventory) was not found: pass --helper PATH"
    fi
}

# Address must be a dotted quad inside NET_PREFIX.0/24 and not .0, .1 (bridge) or .255.
check_address() {
    local addr=$1 where=$2 o
    [[ $addr =~ ^([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})$ ]] \
        || usage_error "$where: '$addr' is not an IPv4 address"
    for o in "${BASH_REMATCH[@]:1}"; do
        (( 10#$o <= 255 )) || usage_error "$where: '$addr' is not an IPv4 address"
    done
    [[ ${addr%.*} == "$NET_PREFIX" ]] \
        || usage_error "$where: address $addr is outside the local cluster subnet $NET_PREFIX.0/24"
    o=$((10#${addr##*.}))
    (( o >= 2 && o <= 254 )) \
        || usage_error "$where: address $addr is reserved ($NET_PREFIX.0 network, .1 bridge, .255 broadcast)"
}

# Fills NODE_NAMES, NODE_ADDRS, NODE_GROUPS, NODE_IMAGES from `cluster-deploy inventory
# --inventory DIR` ("name address group image file:line" per node, image being the Debian
# release the node boots: its field image=; its errors name file:line), then applies the
# local cluster's own rules: every address in NET_PREFIX.0/24 and not reserved, and no address
# twice (a deploy allows one address with two ports; a local node has one sshd).
read_inventory() {
    local dir=$1 helper listing errors rc=0 name addr group image where
    [[ -d $dir ]] || usage_error "inventory directory '$dir' does not exist"
    helper=$(find_helper)
    make_tmp_dir errors
    listing=$("$helper" inventory --inventory "$dir" 2>"$errors/stderr") || rc=$?
    if (( rc != 0 )); then
        local message
        message=$(sed 's/^cluster-deploy: error: //' "$errors/stderr")
        (( rc == 2 )) && usage_error "$message"
        die "$helper inventory --inventory $dir failed (exit $rc): $message"
    fi
    local -A seen_addr=()
    while read -r name addr group image where; do
        [[ -n $name ]] || continue
        check_address "$addr" "$where"
        [[ -z ${seen_addr[$addr]:-} ]] \
            || usage_error "$where: duplicate address $addr (first at ${seen_addr[$addr]})"
        seen_addr[$addr]=$where
        NODE_NAMES+=("$name")
        NODE_ADDRS+=("$addr")
        NODE_GROUPS+=("$group")
        NODE_IMAGES+=("$image")
    done <<<"$listing"
    (( ${#NODE_NAMES[@]} > 0 )) || usage_error "inventory '$dir' lists no node"
    return 0
}
