#!/bin/sh
# lock.sh <cluster> <run> <lease seconds> <who>   (run as root)
#
# Takes this node for one command run that changes it (deploy, rollback, up, down, clean),
# so that two runs at once (CI and a developer, a deploy and a clean) never interleave.
# The lock is a record in the run folder (gone at reboot) that every script of the holding
# run renews (prelude.sh). It names the SSH connection the run came over (its sshd session
# process): when that is gone, the controller died or lost the connection, and the node is
# free at once; else it is held until its lease runs out. Prints "locked <who> since <time> <seconds left>" and exits 5 when another
# run holds the node. Taking it again for the same run renews it.
set -eu
# shellcheck source=prelude.sh
. ./prelude.sh
run=$2 lease=$3 who=$4

# The start time of process $1 (field 22 of /proc/<pid>/stat; the fields before it hold no
# space for the processes asked about here: sshd and its session processes).
start_time() {
  read -r stat <"/proc/$1/stat" || return 0
  # shellcheck disable=SC2086 # split into fields on purpose
  set -- $stat
  shift 21
  echo "$1"
}

# "<pid> <start time>" of the sshd process of this connection: our first sshd ancestor.
# Shell builtins only: this runs in every locking command run.
connection() {
  pid=$$
  while [ "$pid" -gt 1 ] 2>/dev/null; do
    comm=""
    read -r comm <"/proc/$pid/comm" 2>/dev/null || true
    if [ "$comm" = sshd ]; then
      echo "$pid $(start_time "$pid")"
      return
    fi
    parent=""
    while read -r key value; do
      if [ "$key" = PPid: ]; then
        parent=$value
        break
      fi
    done <"/proc/$pid/status" 2>/dev/null || true
    pid=$parent
  done
}

# True while the connection "<pid> <start time>" is open (unknown counts as open).
connection_open() {
  [ -z "$1" ] && return 0
  # shellcheck disable=SC2086 # "<pid> <start time>": two words
  set -- $1
  [ -r "/proc/$1/stat" ] && [ "$(start_time "$1")" = "$2" ]
}

umask 077
mkdir -p "$run_dir"
exec 8>"$run_dir/.lock-guard"
if ! flock -w 10 8; then
  echo "locked (someone is taking the lock right now) since - 0"
  exit 5
fi
if [ -f "$lock_record" ]; then
  holder="" holder_lease="" holder_connection="" holder_who="" holder_since=""
  while read -r key value; do
    case $key in
    run) holder=$value ;;
    lease) holder_lease=$value ;;
    connection) holder_connection=$value ;;
    who) holder_who=$value ;;
    since) holder_since=$value ;;
    esac
  done <"$lock_record"
  if [ "$holder" != "$run" ]; then
    age=$(($(date +%s) - $(stat -c %Y "$lock_record")))
    if [ "$age" -lt "${holder_lease:-0}" ] && connection_open "$holder_connection"; then
      echo "locked $holder_who since $holder_since $((holder_lease - age))"
      exit 5
    fi
  fi
fi
printf 'run %s\nlease %s\nwho %s\nsince %s\nconnection %s\n' "$run" "$lease" "$who" \
  "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$(connection)" >"$lock_record.tmp"
mv -f "$lock_record.tmp" "$lock_record"
