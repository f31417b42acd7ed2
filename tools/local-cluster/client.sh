# shellcheck shell=bash
# local-cluster: the SSH client files and asking nodes whether they are up.
# Sourced by local-cluster (beside it); uses its conventions and messages. See docs/local-cluster.md.

# Writes ssh_config, known_hosts and nodes.txt for the inventory's nodes into $1. A node that
# still runs but has left the inventory gets ssh_config and known_hosts entries too (not in
# nodes.txt): a deploy can then retire what it had deployed there, as on a real network,
# where a machine taken out of servers.txt is still reachable.
write_client_files() {
    local out=$1 i name dir
    mkdir -p "$out"
    out=$(cd "$out" && pwd)
    install -m 0600 "$DEPLOY_KEY" "$out/id_ed25519"
    install -m 0644 "$DEPLOY_KEY.pub" "$out/id_ed25519.pub"
    : >"$out/known_hosts.tmp"
    : >"$out/ssh_config.tmp"
    : >"$out/nodes.txt.tmp"
    for i in "${!NODE_NAMES[@]}"; do
        name=${NODE_NAMES[$i]}
        client_entry "$out" "$name" "${NODE_ADDRS[$i]}"
        printf '%s %s %s\n' "$name" "${NODE_ADDRS[$i]}" "${NODE_GROUPS[$i]}" >>"$out/nodes.txt.tmp"
    done
    for dir in "$NODES_DIR"/*/; do
        name=$(basename "$dir")
        if [[ " ${NODE_NAMES[*]} " != *" $name "* && -f $dir/address ]] && node_running "$name"; then
            client_entry "$out" "$name" "$(<"$dir/address")"
        fi
    done
    mv -f "$out/known_hosts.tmp" "$out/known_hosts"
    mv -f "$out/ssh_config.tmp" "$out/ssh_config"
    mv -f "$out/nodes.txt.tmp" "$out/nodes.txt"
}

# One node's host keys and Host entry, appended to the files write_client_files is writing.
client_entry() {
    local out=$1 name=$2 addr=$3 key
    for key in "$(node_dir "$name")"/disk/upper/etc/ssh/ssh_host_*_key.pub; do
        [[ -f $key ]] && awk -v h="$addr,$name" '{ print h, $1, $2 }' "$key" >>"$out/known_hosts.tmp"
    done
    cat >>"$out/ssh_config.tmp" <<EOF
Host $name $addr
    HostName $addr
    User deploy
    IdentityFile $out/id_ed25519
    IdentitiesOnly yes
    UserKnownHostsFile $out/known_hosts
    StrictHostKeyChecking yes
    GlobalKnownHostsFile /dev/null
    BatchMode yes
    ConnectTimeout 5

EOF
}

# Asks one node for its systemd state over SSH, writes "state" or "ssh: <error>" to FILE.
probe_node() {
    local cfg=$1 name=$2 file=$3 out rc=0
    out=$(timeout 15 ssh -F "$cfg" "$name" sudo -n systemctl is-system-running 2>&1 </dev/null) || rc=$?
    out=$(tr -d '\r' <<<"$out" | tail -n 1)
    if [[ $out =~ ^(running|degraded|starting|initializing|maintenance|stopping|offline)$ ]]; then
        echo "$out" >"$file"
    else
        echo "ssh failed (exit $rc): ${out:-no output}" >"$file"
    fi
}

# Probes the given nodes in parallel; results in DIR/<name>.
probe_nodes() {
    local cfg=$1 dir=$2 name probes=()
    shift 2
    for name in "$@"; do
        probe_node "$cfg" "$name" "$dir/$name" &
        probes+=($!)
    done
    wait "${probes[@]}"    # not a bare 'wait': the nspawn processes are our children too
}

# True if a node that was already running still is, without SSH: its own systemd, asked in
# the node's namespaces, says "running" (no failed unit) and sshd is active. A node passed the
# SSH probe below when it started; this keeps `up` on a running cluster quick (an IDE runs the
# CTest fixture, and so `up`, once per test).
node_still_up() {
    local init
    init=$(node_init "$1") || return 1
    [[ $(timeout 5 nsenter -t "$init" -m -p -- systemctl is-system-running 2>/dev/null) == running ]] &&
        timeout 5 nsenter -t "$init" -m -p -- systemctl is-active -q ssh.service
}

# The pid (on this host) of a running node's init.
node_init() {
    local pid init
    pid=$(nspawn_pid "$1") || return 1
    init=$(<"/proc/$pid/task/$pid/children") 2>/dev/null || return 1
    init=${init%% *} # nspawn's one child: the node's init
    [[ -n $init ]] && echo "$init"
}

# Starts once more, in a node that is not ready yet, the units that failed at boot. systemd 247
# (Debian 11) on this kernel's hybrid cgroups sometimes fails a unit at its start ("Failed to
# attach to cgroup ... No such file or directory", status 219/CGROUP); when that unit is
# systemd-user-sessions, /run/nologin stays and SSH refuses every login. Our own container only.
restart_failed_units() {
    local name=$1 init units
    init=$(node_init "$name") || return 0
    units=$(timeout 5 nsenter -t "$init" -m -p -- systemctl list-units --state=failed --plain --no-legend 2>/dev/null |
        awk '{print $1}') || return 0
    [[ -n $units ]] || return 0
    echo "$PROG: $name: starting again what failed at boot: ${units//$'\n'/ }" >&2
    # shellcheck disable=SC2086 # one unit name a word
    timeout 30 nsenter -t "$init" -m -p -- systemctl restart $units >/dev/null 2>&1 || true
}

# Notes that the node (its nspawn pid, in nodes/<node>/ready) was seen ready: up_is_current.
mark_ready() {
    local pid
    if pid=$(nspawn_pid "$1"); then echo "$pid" >"$(node_dir "$1")/ready"; fi
}

# The record of the last `up` that ended with every node ready: OUT/.up-current, the
# inventory's path, then "name nspawn-pid" per node.
write_up_stamp() {
    local name pid
    {
        echo "inventory $INVENTORY"
        for name in "${NODE_NAMES[@]}"; do
            pid=$(nspawn_pid "$name") || return 0
            echo "$name $pid"
        done
    } >"$OUT_DIR/.up-current.tmp" && mv -f "$OUT_DIR/.up-current.tmp" "$OUT_DIR/.up-current"
}

# True when an `up` would change nothing: the last one ended with every node ready, the
# inventory has not changed since, and each of its nodes' nspawn still runs, was seen ready,
# and its init still has an sshd listening (found in the host's /proc). Shell builtins only,
# no process started: the deploy target runs `up` every time, and this keeps it at a few
# milliseconds. Anything else goes the whole way.
up_is_current() {
    local stamp=$OUT_DIR/.up-current key path name pid comm ready f init p ppid _
    local -A sshd_parent=()
    [[ -f $stamp && -f $OUT_DIR/ssh_config && -e /sys/class/net/$BRIDGE ]] || return 1
    shopt -s globstar nullglob
    for f in "$INVENTORY" "$INVENTORY"/**; do
        [[ $f -nt $stamp ]] && { shopt -u globstar nullglob; return 1; }
    done
    shopt -u globstar nullglob
    for p in /proc/[0-9]*; do
        read -r _ comm _ ppid _ <"$p/stat" 2>/dev/null && [[ $comm == "(sshd)" ]] && sshd_parent[$ppid]=1
    done
    {
        read -r key path && [[ $key == inventory && $path == "$INVENTORY" ]] || return 1
        while read -r name pid; do
            init="" # nspawn's one child, the node's init ("children" ends without a newline)
            [[ -r /proc/$pid/comm ]] && read -r comm <"/proc/$pid/comm" && [[ $comm == systemd-nspawn ]] &&
                read -r ready <"$NODES_DIR/$name/ready" && [[ $ready == "$pid" ]] || return 1
            read -r init _ <"/proc/$pid/task/$pid/children"
            [[ -n $init && -n ${sshd_parent[$init]:-} ]] || return 1
        done
    } <"$stamp"
}

# Probes the inventory's nodes until each answers running/degraded, a container exits,
# or TIMEOUT passes; then exit 1 with one line per failed node. Nodes not in STARTED_NODES
# (already running before this `up`) that node_still_up are not probed over SSH.
wait_until_ready() {
    local cfg=$1 probe_dir name result rec pending=() failed=() deadline
    make_tmp_dir probe_dir
    for name in "${NODE_NAMES[@]}"; do
        if [[ " ${STARTED_NODES[*]} " != *" $name "* ]] && node_still_up "$name"; then
            mark_ready "$name"
            continue
        fi
        pending+=("$name")
    done
    deadline=$((SECONDS + TIMEOUT))
    local retry_at=$((SECONDS + 20)) retried=0
    while (( ${#pending[@]} > 0 )); do
        if (( !retried && SECONDS >= retry_at )); then # a boot unit lost to the cgroup race
            retried=1
            for name in "${pending[@]}"; do restart_failed_units "$name"; done
        fi
        probe_nodes "$cfg" "$probe_dir" "${pending[@]}"
        local still=()
        for name in "${pending[@]}"; do
            result=$(<"$probe_dir/$name")
            if [[ $result == running || $result == degraded ]]; then
                mark_ready "$name"
                continue
            elif ! node_running "$name"; then
                failed+=("$name: container exited: $(last_log_line "$name")")
            else
                still+=("$name")
            fi
        done
        pending=("${still[@]}")
        (( ${#pending[@]} == 0 )) && break
        if (( SECONDS >= deadline )); then
            for name in "${pending[@]}"; do
                failed+=("$name: not ready after ${TIMEOUT}s: $(<"$probe_dir/$name"); boot log: $(last_log_line "$name")")
            done
            break
        fi
        sleep 1
    done
    if (( ${#failed[@]} > 0 )); then
        for rec in "${failed[@]}"; do echo "$PROG: error: node $rec" >&2; done
        exit 1
    fi
}

# The state `status` prints for a node: running, booting, unreachable or stopped.
node_state() {
    local name=$1 probe_dir=$2 result age
    if ! node_running "$name"; then
        echo stopped
        return
    fi
    result=$(cat "$probe_dir/$name" 2>/dev/null || echo "no probe")
    age=$(( $(date +%s) - $(stat -c %Y "$(node_dir "$name")/nspawn.pid") ))
    case $result in
        running|degraded) echo running ;;
        starting|initializing) echo booting ;;
        *) if (( age < TIMEOUT )); then echo booting; else echo unreachable; fi ;;
    esac
}
