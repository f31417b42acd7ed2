# shellcheck shell=bash
# local-cluster: nodes (overlay root, identity, nspawn process, teardown).
# Sourced by local-cluster (beside it); uses its conventions and messages. See docs/local-cluster.md.

node_dir()   { echo "$NODES_DIR/$1"; }
machine_of() { echo "${1//_/-}"; }                       # nspawn machine names allow no '_'

# ---- machine-wide deploy key -----------------------------------------------------------
ensure_deploy_key() {
    mkdir -p "$STATE_DIR"
    chmod 0700 "$STATE_DIR"
    [[ -f $DEPLOY_KEY && -f $DEPLOY_KEY.pub ]] && return 0
    rm -f "$DEPLOY_KEY" "$DEPLOY_KEY.pub"
    ssh-keygen -q -t ed25519 -N '' -C local-cluster-deploy -f "$DEPLOY_KEY"
}

# ---- node processes ----------------------------------------------------------------------------
# The nspawn pid of a node if it is alive and really our nspawn for that node.
nspawn_pid() {
    local name=$1 pidfile pid
    pidfile=$(node_dir "$name")/nspawn.pid
    [[ -f $pidfile ]] || return 1
    pid=$(<"$pidfile")
    [[ $pid =~ ^[0-9]+$ && -r /proc/$pid/cmdline ]] || return 1
    tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | grep -qxF -- "$(node_dir "$name")/root" || return 1
    echo "$pid"
}

node_running() { nspawn_pid "$1" >/dev/null; }

# All nspawn processes started from our state dir, as "pid node" lines
# (found by their command line, so nodes of any inventory are found).
all_nspawn_processes() {
    local p root
    for p in /proc/[0-9]*; do
        [[ $(cat "$p/comm" 2>/dev/null) == systemd-nspawn ]] || continue
        root=$(tr '\0' '\n' <"$p/cmdline" 2>/dev/null | grep -m1 "^$NODES_DIR/[^/]*/root\$") || continue
        root=${root%/root}
        echo "${p#/proc/} ${root##*/}"
    done
}

# Container processes of a node: every process in the pid namespace recorded at
# boot, provided that namespace still has the node's overlay as its root (a
# namespace id can be reused by another container once the node is gone).
node_container_pids() {
    local name=$1 dir ns p pids=()
    dir=$(node_dir "$name")
    [[ -s $dir/pidns ]] || return 0
    ns=$(<"$dir/pidns")
    for p in /proc/[0-9]*; do
        [[ $(readlink "$p/ns/pid" 2>/dev/null) == "$ns" ]] && pids+=("${p#/proc/}")
    done
    (( ${#pids[@]} > 0 )) || return 0
    grep -qF "upperdir=$dir/disk/upper," "/proc/${pids[0]}/mountinfo" 2>/dev/null || return 0
    printf '%s\n' "${pids[@]}"
}

# Remembers the container's pid namespace (to find its processes even if nspawn dies).
record_pidns() {
    local name=$1 nspawn=$2 hostns c i children=()
    hostns=$(readlink /proc/self/ns/pid)
    for i in $(seq 1 50); do
        read -r -a children <<<"$(cat /proc/"$nspawn"/task/*/children 2>/dev/null | tr '\n' ' ')"
        for c in "${children[@]}"; do
            local ns
            ns=$(readlink "/proc/$c/ns/pid" 2>/dev/null) || continue
            if [[ $ns != "$hostns" ]]; then
                echo "$ns" >"$(node_dir "$name")/pidns"
                return 0
            fi
        done
        kill -0 "$nspawn" 2>/dev/null || return 0
        sleep 0.1
    done
    return 0
}

# Runs "$@" in the background in a new session, inheriting no file descriptor but
# 0-2: not our locks (fd 8/9), and not the pipe ninja's console pool hands to build
# commands (ninja waits until every copy of it is closed, so a container holding it
# would hang `cmake --build ... --target deploy` forever).
spawn_detached() {
    (
        local fd
        for fd in /proc/self/fd/*; do
            fd=${fd##*/}
            if ((fd > 2)); then eval "exec $fd>&-"; fi
        done
        exec setsid "$@"
    ) &
}

start_node() {
    local name=$1 addr=$2 dir log pid
    dir=$(node_dir "$name")
    log=$dir/boot.log
    : >"$log"
    # CAP_NET_ADMIN acts on the node's own network namespace only: partition faults (nftables).
    spawn_detached systemd-nspawn --quiet -D "$dir/root" --boot --register=no --keep-unit \
        --network-namespace-path="/run/netns/$(netns_of "$name")" --machine="$(machine_of "$name")" \
        --capability=CAP_NET_ADMIN \
        --link-journal=no --resolv-conf=off --timezone=off --console=read-only \
        </dev/null >>"$log" 2>&1
    pid=$!
    echo "$pid" >"$dir/nspawn.pid"
    record_pidns "$name" "$pid"
}

# ---- node preparation --------------------------------------------------------------------------
write_node_identity() {
    local name=$1 root=$2 i uid gid mid
    echo "$name" >"$root/etc/hostname"
    {
        printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n'
        for i in "${!NODE_NAMES[@]}"; do printf '%s\t%s\n' "${NODE_ADDRS[$i]}" "${NODE_NAMES[$i]}"; done
    } >"$root/etc/hosts"
    mid=$(tr -d '-' </proc/sys/kernel/random/uuid)
    echo "$mid" >"$root/etc/machine-id"
    rm -f "$root"/etc/ssh/ssh_host_*
    ssh-keygen -q -t ed25519 -N '' -C "root@$name" -f "$root/etc/ssh/ssh_host_ed25519_key"
    ssh-keygen -q -t ecdsa   -N '' -C "root@$name" -f "$root/etc/ssh/ssh_host_ecdsa_key"
    uid=$(awk -F: '$1 == "deploy" { print $3 }' "$root/etc/passwd")
    gid=$(awk -F: '$1 == "deploy" { print $4 }' "$root/etc/passwd")
    [[ -n $uid ]] || die "image has no user deploy"
    mkdir -p "$root/home/deploy/.ssh"
    cp "$DEPLOY_KEY.pub" "$root/home/deploy/.ssh/authorized_keys"
    chmod 0700 "$root/home/deploy/.ssh"
    chmod 0600 "$root/home/deploy/.ssh/authorized_keys"
    chown -R "$uid:$gid" "$root/home/deploy/.ssh"
}

# A node's own disk, as a machine has one: a sparse file of NODE_DISK_SIZE with ext4,
# mounted through a loop device (detached again at unmount) at nodes/<node>/disk. The
# node's writable layer lives on it, so a full disk (the disk-full fault) is that node's
# alone, and filling it costs the host no space (fallocate reserves, writes nothing).
mount_node_disk() {
    local dir=$1
    truncate -s "$NODE_DISK_SIZE" "$dir/disk.img"
    # -m 0: no blocks reserved for root. overlayfs writes to the upper layer with the
    # credentials of whoever mounted it (root here), so every write of a node would count
    # as root's and fill a reserve where a real machine's services could not.
    mkfs.ext4 -q -F -m 0 -E lazy_itable_init=1,lazy_journal_init=1 "$dir/disk.img" ||
        die "cannot make a file system on $dir/disk.img"
    mkdir -p "$dir/disk"
    # noinit_itable: no background zeroing of inode tables (ext4's checksums cover them);
    # discard: what the node deletes goes back to the host as holes in the sparse file.
    mount -o loop,noinit_itable,discard "$dir/disk.img" "$dir/disk" || die "cannot mount $dir/disk.img (loop devices: /dev/loop-control)"
    mkdir -p "$dir/disk/upper" "$dir/disk/work"
}

# Fresh node: its disk, overlay (lower = image, upper/work on the disk), identity, network.
prepare_node() {
    local name=$1 addr=$2 group=$3 release=$4 dir image
    dir=$(node_dir "$name")
    image=$(image_dir "$release")
    mkdir -p "$dir/root"
    echo "$addr" >"$dir/address"
    echo "$group" >"$dir/group"
    echo "$image" >"$dir/image"
    mount_node_disk "$dir"
    mount -t overlay overlay -o "lowerdir=$image,upperdir=$dir/disk/upper,workdir=$dir/disk/work" "$dir/root"
    write_node_identity "$name" "$dir/root"
    setup_node_network "$name" "$addr"
}

# ---- teardown ------------------------------------------------------------------------------------
# Waits until none of the given pids is alive, at most SECONDS. Prints the survivors.
wait_pids_gone() {
    local seconds=$1 p alive deadline
    shift
    deadline=$((SECONDS + seconds))
    while :; do
        alive=()
        for p in "$@"; do kill -0 "$p" 2>/dev/null && alive+=("$p"); done
        (( ${#alive[@]} == 0 )) && return 0
        (( SECONDS >= deadline )) && { echo "${alive[*]}"; return 0; }
        sleep 0.2
    done
}

# Stops the given nodes: SIGTERM to nspawn (clean poweroff), a second SIGTERM
# to those still alive (nspawn then exits at once), then SIGKILL of whatever is
# left in the containers, their PID 1 last. Every wait is bounded.
stop_nodes() {
    local names=("$@") name pid pids=() left=() p cpids init
    for name in "${names[@]}"; do
        pid=$(nspawn_pid "$name") || continue
        pids+=("$pid")
        kill -TERM "$pid" 2>/dev/null || true
    done
    # Powering off is CPU-bound: 103 nodes on 2 cores need more than 15 s (5-8 of them were
    # still shutting down then). A quarter of a second per node, at least 15 s.
    local patience=$(( ${#pids[@]} / 4 > 15 ? ${#pids[@]} / 4 : 15 ))
    if (( ${#pids[@]} > 0 )); then
        read -r -a left <<<"$(wait_pids_gone "$patience" "${pids[@]}")"
        if (( ${#left[@]} > 0 )); then
            warn "nodes did not power off within $patience s; terminating nspawn (${left[*]})"
            kill -TERM "${left[@]}" 2>/dev/null || true
            read -r -a left <<<"$(wait_pids_gone 10 "${left[@]}")"
            if (( ${#left[@]} > 0 )); then
                kill -KILL "${left[@]}" 2>/dev/null || true
                wait_pids_gone 5 "${left[@]}" >/dev/null
            fi
        fi
    fi
    for name in "${names[@]}"; do
        mapfile -t cpids < <(node_container_pids "$name")
        (( ${#cpids[@]} > 0 )) || continue
        init=""
        for p in "${cpids[@]}"; do
            if [[ $(awk '/^NSpid:/ { print $NF }' "/proc/$p/status" 2>/dev/null) == 1 ]]; then
                init=$p
            else
                kill -KILL "$p" 2>/dev/null || true
            fi
        done
        if [[ -n $init ]]; then kill -KILL "$init" 2>/dev/null || true; fi
        read -r -a left <<<"$(wait_pids_gone 10 "${cpids[@]}")"
        (( ${#left[@]} == 0 )) || warn "node $name: processes ${left[*]} did not exit"
    done
}

# Removes mounts, network and state of a stopped node.
remove_node_state() {
    local name=$1 dir addr
    dir=$(node_dir "$name")
    umount_below "$dir"
    ip netns del "$(netns_of "$name")" 2>/dev/null || true
    if [[ -f $dir/address ]]; then
        addr=$(<"$dir/address")
        ip link del dev "$(veth_of "$addr")" 2>/dev/null || true
    fi
    if findmnt -rn -o TARGET | awk -v d="$dir/" 'index($0, d) == 1 { found = 1 } END { exit !found }'; then
        warn "node $name: still mounted, keeping $dir"
    else
        rm -rf --one-file-system "$dir"
    fi
}

# Every node we know of: state dirs plus running nspawn processes.
known_nodes() {
    {
        [[ -d $NODES_DIR ]] && find "$NODES_DIR" -mindepth 1 -maxdepth 1 -type d -printf '%f\n'
        all_nspawn_processes | awk '{ print $2 }'
    } | sort -u
}

last_log_line() {
    local log
    log=$(node_dir "$1")/boot.log
    [[ -s $log ]] || { echo "(empty boot log)"; return; }
    tr -d '\r' <"$log" | sed 's/\x1b\[[0-9;]*[A-Za-z]//g' | grep -v '^[[:space:]]*$' | tail -n 1
}

# ---- bringing the inventory's nodes up -------------------------------------------------------
# A running node must have its inventory address, and no address may be held by a
# node of another inventory.
check_node_addresses() {
    local i name addr dir rec
    for i in "${!NODE_NAMES[@]}"; do
        name=${NODE_NAMES[$i]}; addr=${NODE_ADDRS[$i]}
        dir=$(node_dir "$name")
        if node_running "$name"; then
            rec=$(cat "$dir/address" 2>/dev/null || true)
            [[ $rec == "$addr" ]] || usage_error "node $name is running with address $rec, inventory says $addr; run '$PROG down' first"
            rec=$(cat "$dir/image" 2>/dev/null || true)
            [[ $rec == "$(image_dir "${NODE_IMAGES[$i]}")" ]] ||
                usage_error "node $name is running from image $rec, inventory says ${NODE_IMAGES[$i]}; run '$PROG down' first"
            continue
        fi
        for rec in "$NODES_DIR"/*/address; do
            [[ -f $rec && $rec != "$dir/address" && $(<"$rec") == "$addr" ]] || continue
            usage_error "address $addr is in use by local cluster node $(basename "$(dirname "$rec")"); run '$PROG down' first"
        done
    done
}

# Boots every inventory node that is not running; running nodes are left alone.
start_missing_nodes() {
    local i name addr started=0
    for i in "${!NODE_NAMES[@]}"; do
        name=${NODE_NAMES[$i]}; addr=${NODE_ADDRS[$i]}
        node_running "$name" && continue
        stop_nodes "$name"              # leftovers of a node that died
        remove_node_state "$name"
        prepare_node "$name" "$addr" "${NODE_GROUPS[$i]}" "${NODE_IMAGES[$i]}"
        start_node "$name" "$addr"
        STARTED_NODES+=("$name")
        started=$((started + 1))
    done
    info "$started node(s) started, $(( ${#NODE_NAMES[@]} - started )) already running"
}
