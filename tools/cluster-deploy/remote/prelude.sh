# prelude.sh: the start of every node action; CMake inlines it where a script sources it.
# $1 is the cluster in every node action. The paths on a node are spelled here and in
# ../src/layout.hpp only (unit test "layout: the node scripts and the helper agree").
# shellcheck shell=sh
# shellcheck disable=SC2034 # these are used by the scripts that source this file
cluster=$1
root=/opt/$cluster                    # releases/<id>, current, started/<service>, deploy.log
data=/var/lib/$cluster                # <service>/: the services' data (clean --purge-data only)
private_data=/var/lib/private/$cluster # the same for services with DynamicUser=
unit_dir=/etc/systemd/system          # <cluster>-<service>.service
run_dir=/run/cluster-deploy/$cluster  # faults/<id>, heal.sh, .lock: gone at reboot, like a fault
lock_record=$run_dir/lock             # which command run holds the node (lock.sh)
# A deploy's fan-out (relay-*.sh): other nodes pass files to this account, with a key that
# exists only for that deploy and may only write into the inbox or read the outbox.
relay_user=$cluster-relay
relay_mark="cluster-deploy $cluster relay"
relay_home=$root/relay                # .ssh/authorized_keys (the deploy's key), receive.sh, inbox/
relay_inbox=$relay_home/inbox         # what arrives, named by its sha256, until relay-adopt.sh takes it
relay_outbox=$relay_home/outbox       # what this node takes (relay-take.sh), readable as it arrives, for nodes below it
relay_run=$run_dir/relay              # the deploy's private key, for passing files on (root's alone)
mark="cluster-deploy $cluster"        # the service user's comment and the .cluster-deploy files
unit_mark="# cluster-deploy: cluster=$cluster" # a line of every unit we install

# Our nft tables: <prefix>f<digits>, one per partition fault (nft names allow [A-Za-z0-9_]).
table_prefix() { printf 'cluster_deploy_%s_' "$cluster" | tr -c 'A-Za-z0-9_\n' _; }

# ssh to another node of a deploy's fan-out with the deploy's key (relay-send.sh, relay-take.sh),
# checking its host key strictly against <known_hosts>, the lines the controller read from that
# node. The node's own ssh configuration, agent and keys are not used, nothing is forwarded.
# Every wait is bounded: 5 s to connect, 9 s without an answer. Each transfer is a connection of
# its own, so the key exchange is curve25519: OpenSSH's post-quantum default costs a busy node
# about 0.15 s more per connection, for a key that lives a few minutes and files that are no
# secret (configs are never passed on). AES-GCM first: the nodes' CPUs do AES in hardware.
relay_ssh() { # relay_ssh <known_hosts> <port> <user@address> <command>
  ssh -F /dev/null -T -i "$relay_run/key" -o IdentitiesOnly=yes -o IdentityAgent=none -o BatchMode=yes \
    -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$1" -o GlobalKnownHostsFile=/dev/null \
    -o ConnectTimeout=5 -o ServerAliveInterval=3 -o ServerAliveCountMax=3 \
    -o KexAlgorithms=curve25519-sha256,curve25519-sha256@libssh.org \
    -o Ciphers=aes128-gcm@openssh.com,chacha20-poly1305@openssh.com \
    -o ForwardAgent=no -o ClearAllForwardings=yes -o LogLevel=ERROR -p "$2" "$3" "$4"
}

# The transient timer and service that heal fault <id>.
heal_unit() { printf 'cluster-deploy-heal-%s-%s\n' "$cluster" "$1"; }

# A line in the node's journal under our tag, where the evidence of a failed test looks for
# faults (collect.sh). Never fails the caller.
say_in_journal() { logger -t "cluster-deploy-$cluster" -- "$*" 2>/dev/null || true; }

unit_name() { printf '%s-%s.service\n' "$cluster" "$1"; }

# Sets ms to the milliseconds of $1, seconds with two decimals as in /proc/uptime (the
# node's monotonic clock), with the shell's own arithmetic.
set_ms() { ms=$((${1%.*} * 1000 + 1${1#*.}0 - 1000)); } # 1...: no octal from a leading 0

# Sets up_ms to the milliseconds since the monotonic time $1 (microseconds, as systemd's
# ActiveEnterTimestampMonotonic).
set_up_ms() {
  read -r now _ </proc/uptime
  set_ms "$now"
  up_ms=$((ms - $1 / 1000))
}

# A service's data folder (DynamicUser= services keep theirs under /var/lib/private).
data_folder() {
  if [ -d "$private_data/$1" ] && [ ! -L "$private_data/$1" ]; then
    echo "$private_data/$1"
  else
    echo "$data/$1"
  fi
}

# Writes byte value $3 at offset $2 of file $1, in place (corrupt and its heal).
flip_byte() {
  # shellcheck disable=SC2059 # the format is the byte, as an octal escape
  printf "$(printf '\\%03o' "$3")" | dd of="$1" bs=1 seek="$2" count=1 conv=notrunc status=none
}

# In a release's folder: one stat(1) line per file of its manifest and per installed unit of
# it, as activate.sh records them (.stat) and drift.sh compares them.
file_stats() {
  set --
  while read -r _ path; do set -- "$@" "$path"; done <MANIFEST
  for f in units/*.service; do [ ! -f "$f" ] || set -- "$@" "$unit_dir/${f#units/}"; done
  stat -c '%i %s %.9Y %.9Z %n' -- "$@" 2>&1
}

# sha256_of <file>: its SHA-256 in hex, empty when it cannot be read. openssl's where the node
# has it (Debian's ca-certificates brings it): it uses the CPU's SHA instructions and hashes 57
# MiB in 0.07 s where coreutils' sha256sum takes 0.45 s, and every node of a fan-out checks every
# program it took (docs/benchmarks.md, "Fan-out").
if command -v openssl >/dev/null 2>&1; then
  sha256_of() { set -- "$(openssl dgst -sha256 -r 2>/dev/null <"$1")"; printf '%s\n' "${1%% *}"; }
else
  sha256_of() { set -- "$(sha256sum 2>/dev/null <"$1")"; printf '%s\n' "${1%% *}"; }
fi

# True for a unit file of ours (cluster "kv" never touches "kv-test"'s units).
is_our_unit() { [ -f "$1" ] && grep -qx "$unit_mark" "$1"; }

# An account or folder of the cluster's name without our mark is someone else's:
# refused (exit 4) before anything is changed. $1 says what is refused: "to deploy", "to clean".
# One getent and the shell's own read: this runs in every switch of every node.
refuse_unless_ours() {
  account=$(getent passwd "$cluster") || account=""
  IFS=: read -r _ _ _ _ comment _ <<EOF
$account
EOF
  if [ -n "$account" ] && [ "$comment" != "$mark" ]; then
    echo "user $cluster exists and was not created by cluster-deploy: refusing $1" >&2
    exit 4
  fi
  for d in "$root" "$data"; do
    if [ -e "$d" ] && [ ! -f "$d/.cluster-deploy" ]; then
      echo "$d exists and was not created by cluster-deploy: refusing $1" >&2
      exit 4
    fi
  done
}

# Creates the service user and our folders, each with our mark (after refuse_unless_ours,
# whose $account says whether the user exists).
make_ours() {
  [ -n "${account:-}" ] || getent passwd "$cluster" >/dev/null ||
    useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin \
      --comment "$mark" "$cluster"
  for d in "$root" "$data"; do
    [ -d "$d" ] || mkdir -p "$d"
    [ -f "$d/.cluster-deploy" ] || printf '%s\n' "$mark" >"$d/.cluster-deploy"
  done
}

# A script of the run that holds the node's lock renews its lease (lock.sh). Read with the
# shell's own `read`: this runs before every node action, so it starts no process but touch,
# and in a batch of steps (node_ops.cpp) only the first step's does (cd_lease_renewed).
if [ -n "${CLUSTER_DEPLOY_RUN:-}" ] && [ -z "${cd_lease_renewed:-}" ] && [ -f "$lock_record" ]; then
  lock_run=""
  while read -r lock_key lock_value; do
    [ "$lock_key" != run ] || lock_run=$lock_value
  done <"$lock_record" 2>/dev/null || true
  [ "$lock_run" != "$CLUSTER_DEPLOY_RUN" ] || touch "$lock_record" 2>/dev/null || true
fi
