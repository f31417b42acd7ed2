#!/usr/bin/env bash
# CTest cases for tools/local-cluster/local-cluster.
#
#   local-cluster-test.sh CASE TOOL HELPER INVENTORY OUT
#
# CASE: up | ssh-every-node | host-key-strict | up-idempotent | bad-inventory |
#       down-other-inventory | down | down-leaves-nothing
# Each case checks what a user observes (exit codes, messages, ssh, ps, ip, findmnt).
set -euo pipefail

readonly CASE=${1:?case}
readonly TOOL=${2:?tool}
readonly HELPER=${3:?cluster-deploy helper}
readonly INVENTORY=${4:?inventory}
readonly OUT=${5:?out dir}
readonly STATE_DIR=/var/lib/cluster-deploy/local-cluster
readonly UP_TIMEOUT=240

FAILS=0
TMP=$(mktemp -d /tmp/local-cluster-test.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

fail() { echo "FAIL: $*" >&2; FAILS=$((FAILS + 1)); }
tool() { "$TOOL" "$@" --helper "$HELPER"; }
pass() { echo "ok: $*"; }
finish() { (( FAILS == 0 )) || { echo "$FAILS check(s) failed" >&2; exit 1; }; echo "all checks passed"; }

# Node names of the inventory, read independently of the tool.
inventory_nodes() {
    sed -e 's/#.*//' "$INVENTORY"/*.txt | awk 'NF { split($1, a, ":"); print a[1] }'
}

node_ssh() {
    local node=$1; shift
    timeout 30 ssh -F "$OUT/ssh_config" "deploy@$node" "$@" </dev/null
}

# "pid machine" for every systemd-nspawn process on the host.
nspawn_processes() {
    local p m
    for p in /proc/[0-9]*; do
        [[ $(cat "$p/comm" 2>/dev/null) == systemd-nspawn ]] || continue
        m=$(tr '\0' '\n' <"$p/cmdline" 2>/dev/null | sed -n 's/^--machine=//p')
        echo "${p#/proc/} ${m:-?}"
    done | sort
}

case_up() {
    local rc=0
    tool up --inventory "$INVENTORY" --out "$OUT" --timeout "$UP_TIMEOUT" || rc=$?
    (( rc == 0 )) || fail "local-cluster up exited $rc"
    local f
    for f in ssh_config known_hosts id_ed25519 id_ed25519.pub nodes.txt; do
        [[ -s $OUT/$f ]] || fail "$OUT/$f missing or empty"
    done
    [[ $(stat -c %a "$OUT/id_ed25519" 2>/dev/null) == 600 ]] || fail "id_ed25519 is not mode 0600"
    local node
    for node in $(inventory_nodes); do
        grep -q "^$node " "$OUT/nodes.txt" || fail "nodes.txt lacks $node"
        grep -q ",$node ssh-ed25519 " "$OUT/known_hosts" || fail "known_hosts lacks an ed25519 key for $node"
    done
    finish
}

case_ssh_every_node() {
    local node out n=0
    for node in $(inventory_nodes); do
        n=$((n + 1))
        out=$(node_ssh "$node" sudo systemctl is-system-running 2>&1) || true
        out=$(tail -n 1 <<<"$out")
        [[ $out == running || $out == degraded ]] && pass "$node: $out" || fail "$node: is-system-running said '$out'"
        out=$(node_ssh "$node" hostname 2>&1) || true
        [[ $out == "$node" ]] && pass "$node: hostname $out" || fail "$node: hostname is '$out'"
    done
    (( n > 0 )) || fail "inventory $INVENTORY lists no node"
    finish
}

# A known_hosts holding a wrong key for one node must make ssh refuse it,
# while the real known_hosts is accepted (so the check can tell the two apart).
case_host_key_strict() {
    local node out rc
    node=$(inventory_nodes | head -n 1)
    ssh-keygen -q -t ed25519 -N '' -f "$TMP/wrong"
    awk -v n="$node" -v k="$(cut -d' ' -f1,2 "$TMP/wrong.pub")" \
        '{ split($1, h, ","); if (h[2] == n) print $1, k; else print }' "$OUT/known_hosts" >"$TMP/known_hosts"
    grep -qF "$(cut -d' ' -f2 "$TMP/wrong.pub")" "$TMP/known_hosts" || fail "could not plant the wrong key"
    sed "s|UserKnownHostsFile .*|UserKnownHostsFile $TMP/known_hosts|" "$OUT/ssh_config" >"$TMP/ssh_config"
    rc=0; out=$(timeout 30 ssh -F "$TMP/ssh_config" "deploy@$node" true 2>&1 </dev/null) || rc=$?
    if (( rc != 0 )) && grep -q "Host key verification failed" <<<"$out"; then
        pass "$node refused with a wrong known_hosts key"
    else
        fail "$node: ssh with a wrong host key exited $rc: $out"
    fi
    rc=0; out=$(node_ssh "$node" true 2>&1) || rc=$?
    (( rc == 0 )) && pass "$node accepted with the real known_hosts" || fail "$node: ssh with the real known_hosts exited $rc: $out"
    # Nodes' keys differ from each other (fresh keys per node).
    local dups
    dups=$(awk '$2 == "ssh-ed25519" { print $3 }' "$OUT/known_hosts" | sort | uniq -d)
    [[ -z $dups ]] && pass "every node has its own host key" || fail "nodes share host keys"
    finish
}

snapshot() {
    local node
    nspawn_processes
    sort "$OUT/known_hosts"
    for node in $(inventory_nodes); do
        echo "$node boot_id $(node_ssh "$node" cat /proc/sys/kernel/random/boot_id 2>&1)"
    done
}

case_up_idempotent() {
    local rc=0
    snapshot >"$TMP/before"
    tool up --inventory "$INVENTORY" --out "$OUT" --timeout "$UP_TIMEOUT" >"$TMP/again.out" 2>&1 || rc=$?
    (( rc == 0 )) || fail "second local-cluster up exited $rc: $(cat "$TMP/again.out")"
    # Nothing to do, and known without asking a node (the deploy target's case).
    grep -q "every node runs, as at the last up" "$TMP/again.out" ||
        fail "a second up did not see that nothing changed: $(cat "$TMP/again.out")"
    snapshot >"$TMP/after"
    grep -q boot_id "$TMP/before" || fail "no boot id recorded"
    if diff -u "$TMP/before" "$TMP/after"; then
        pass "same nspawn PIDs, host keys and boot ids after a second up"
    else
        fail "a second up changed the cluster (diff above)"
    fi
    # A node that runs but no longer serves SSH is not taken as up (a running cluster is
    # checked without SSH, so this proves the check looks at sshd): up names it and fails.
    # sshd comes back by itself after 10 s (a timer on the node), and up passes again.
    local victim
    victim=$(inventory_nodes | tail -n 1)
    node_ssh "$victim" sudo -n systemd-run --quiet --on-active=10 --unit=local-cluster-test-sshd \
        systemctl start ssh.service || fail "could not schedule sshd's return on $victim"
    node_ssh "$victim" sudo -n systemctl stop ssh.service || fail "could not stop sshd on $victim"
    rc=0
    tool up --inventory "$INVENTORY" --out "$OUT" --timeout 3 >"$TMP/up.out" 2>&1 || rc=$?
    if (( rc == 1 )) && grep -q "error: node $victim: not ready" "$TMP/up.out"; then
        pass "up with $victim's sshd stopped fails and names it"
    else
        fail "up with $victim's sshd stopped exited $rc: $(cat "$TMP/up.out")"
    fi
    rc=0
    tool up --inventory "$INVENTORY" --out "$OUT" --timeout "$UP_TIMEOUT" >"$TMP/up.out" 2>&1 || rc=$?
    (( rc == 0 )) || fail "up after sshd came back on $victim exited $rc: $(cat "$TMP/up.out")"
    node_ssh "$victim" true || fail "no ssh to $victim after sshd came back"
    finish
}

# Each bad inventory must be refused with exit 2, naming file:line, starting nothing.
expect_bad() {
    local what=$1 pattern=$2 rc=0 out
    out=$(tool up --inventory "$TMP/inv" --out "$TMP/out" --timeout 5 2>&1) || rc=$?
    if (( rc == 2 )) && grep -q -- "$pattern" <<<"$out" && grep -q "^local-cluster: error: " <<<"$out"; then
        pass "$what: $out"
    else
        fail "$what: expected exit 2 and '$pattern', got exit $rc: $out"
    fi
}

write_inv() {
    rm -rf "$TMP/inv"; mkdir -p "$TMP/inv"
    printf '# bad inventory for tests\nbadnode1:10.213.77.201\n%s\n' "$1" >"$TMP/inv/servers.txt"
    printf 'badnode9:10.213.77.209 role=x\n' >"$TMP/inv/workers.txt"
}

case_bad_inventory() {
    local before after
    before=$(nspawn_processes)
    # What any inventory must satisfy: the helper reads it (the name rules of docs/using.md "Names").
    write_inv 'badnode2 10.213.77.202';          expect_bad "missing colon"      "servers.txt:3: expected name:address"
    write_inv 'bad/node2:10.213.77.202';         expect_bad "bad name character" "servers.txt:3: bad node name 'bad/node2'"
    write_inv '_badnode2:10.213.77.202';         expect_bad "name not starting with a letter or digit" "servers.txt:3: bad node name '_badnode2'"
    write_inv "b$(printf 'x%.0s' {1..63}):10.213.77.202"; expect_bad "name of 64 characters" "servers.txt:3: bad node name 'bxxx"
    write_inv 'badnode1:10.213.77.202';          expect_bad "duplicate name"     "servers.txt:3: node badnode1 is already defined"
    write_inv 'badnode2:10.213.77.209';          expect_bad "duplicate address across files" "workers.txt:1: node badnode9 has the address of badnode2"
    write_inv 'badnode2:10.213.77.300';          expect_bad "not an address"     "servers.txt:3: bad address '10.213.77.300'"
    write_inv 'badnode2:10.213.77.202 novalue';  expect_bad "attribute"          "servers.txt:3: expected key=value"
    write_inv 'badnode2:10.213.77.202'; printf 'badnode3:10.213.77.203\n' >"$TMP/inv/web+db.txt"
                                                 expect_bad "bad group name"     "web+db.txt: bad group name 'web+db'"
    # What only the local cluster needs: IPv4 addresses of its subnet, one node per address.
    write_inv 'badnode2:10.213.77.209 port=2222'; expect_bad "one address, two ports" "workers.txt:1: duplicate address 10.213.77.209"
    write_inv 'badnode2:node2.example.org';      expect_bad "a host name"        "servers.txt:3: 'node2.example.org' is not an IPv4"
    write_inv 'badnode2:10.213.78.202';          expect_bad "outside subnet"     "servers.txt:3: .*outside"
    write_inv 'badnode2:10.213.77.1';            expect_bad "bridge address"     "servers.txt:3: .*reserved"
    write_inv 'badnode2:10.213.77.255';          expect_bad "broadcast address"  "servers.txt:3: .*reserved"
    # Not root: refused before anything else.
    if id nobody >/dev/null 2>&1 && command -v setpriv >/dev/null; then
        local rc=0 out
        write_inv 'badnode2:10.213.77.202'
        chmod -R a+rX "$TMP"
        out=$(setpriv --reuid=nobody --regid=nogroup --clear-groups "$TOOL" status --inventory "$TMP/inv" \
                  --helper "$HELPER" 2>&1) || rc=$?
        (( rc == 2 )) && grep -q "must be run as root" <<<"$out" && pass "non-root refused: $out" \
            || fail "non-root: expected exit 2 and 'must be run as root', got $rc: $out"
    fi
    after=$(nspawn_processes)
    [[ $before == "$after" ]] && pass "no nspawn process started or stopped" || fail "nspawn processes changed: [$before] -> [$after]"
    ip netns list | grep -q '^cdlc-badnode' && fail "a netns for a bad inventory node exists"
    ls -d "$STATE_DIR"/nodes/badnode* >/dev/null 2>&1 && fail "state for a bad inventory node exists"
    [[ -e $TMP/out ]] && fail "client files were written for a bad inventory"
    finish
}

# down --inventory of another build tree's inventory takes none of ours down.
case_down_other_inventory() {
    local before after rc=0
    mkdir -p "$TMP/other"
    printf 'elsewhere1:10.213.77.250\n' >"$TMP/other/servers.txt"
    before=$(nspawn_processes)
    tool down --inventory "$TMP/other" >"$TMP/down.log" 2>&1 || rc=$?
    (( rc == 0 )) || fail "down --inventory of another inventory exited $rc: $(cat "$TMP/down.log")"
    after=$(nspawn_processes)
    [[ -n $before && $before == "$after" ]] && pass "every node of ours still runs" ||
        fail "nodes changed: [$before] -> [$after]"
    grep -q "of another inventory still run" "$TMP/down.log" && pass "it says the network stays" ||
        fail "no word that other nodes still run: $(cat "$TMP/down.log")"
    ip link show dev cdlc0 >/dev/null 2>&1 && pass "the bridge stays" || fail "the bridge is gone"
    finish
}

case_down() {
    local rc=0
    tool down || rc=$?
    (( rc == 0 )) || fail "local-cluster down exited $rc"
    finish
}

case_down_leaves_nothing() {
    local x rc=0
    x=$(nspawn_processes)
    [[ -z $x ]] && pass "no systemd-nspawn process" || fail "systemd-nspawn still running: $x"
    x=$(ip netns list | grep '^cdlc' || true)
    [[ -z $x ]] && pass "no cdlc netns" || fail "netns left: $x"
    x=$(ip -o link show | awk -F': ' '{ print $2 }' | grep '^cdlc' || true)
    [[ -z $x ]] && pass "no cdlc link" || fail "links left: $x"
    x=$(findmnt -rn -o TARGET | grep "^$STATE_DIR/" || true)
    [[ -z $x ]] && pass "no mount under $STATE_DIR" || fail "mounts left: $x"
    x=$(ls "$STATE_DIR/nodes" 2>/dev/null || true)
    [[ -z $x ]] && pass "no per-node state" || fail "node state left: $x"
    tool down || rc=$?
    (( rc == 0 )) && pass "second down succeeds" || fail "second down exited $rc"
    x=$(ip -o link show | awk -F': ' '{ print $2 }' | grep '^cdlc' || true)
    [[ -z $x ]] || fail "links after second down: $x"
    finish
}

case $CASE in
    up)                  case_up ;;
    ssh-every-node)      case_ssh_every_node ;;
    host-key-strict)     case_host_key_strict ;;
    up-idempotent)       case_up_idempotent ;;
    bad-inventory)       case_bad_inventory ;;
    down-other-inventory) case_down_other_inventory ;;
    down)                case_down ;;
    down-leaves-nothing) case_down_leaves_nothing ;;
    *) echo "unknown case $CASE" >&2; exit 2 ;;
esac
