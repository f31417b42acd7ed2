#!/bin/sh
# lock.sh <cluster> <run> <lease seconds> <who> <controller> [<dead run>]   (run as root)
#
# Takes this node for one command run that changes it (deploy, rollback, up, down, clean),
# so that two runs at once (CI and a developer, a deploy and a clean) never interleave.
# The lock is a record in the run folder (gone at reboot) that every script of the holding
# run renews (prelude.sh), and its controller every quarter lease (renew-lock.sh). It names
# the SSH connection the run came over (its sshd or, from OpenSSH 9.8 on, sshd-session
# process) and the controller's process (<controller>: "<boot id> <pid> <start time>",
# which only the controller can judge). Another run's lock is
# stale when its lease ran out (and no script of its run is still running here: a long
# upload renews only at its start), when its connection is gone (the controller died or lost
# the link), or when it is <dead run>: a run the caller found dead on its own machine.
# A stale lock is taken over once the scripts its run left running here have ended
# (waited for up to 10 s, then killed).
# Prints "locked <who> since <time> <seconds left>" and "holder <run> <controller>" and
# exits 5 when another run holds the node; prints "stale <run> dead|lease|connection <who>
# since <time>" when it took a stale lock over (why it was stale). Exits 6, taking nothing, when this script's own
# connection is already gone (its controller was killed while it ran). Taking it again for
# the same run renews it.
set -eu
# shellcheck source=prelude.sh
. ./prelude.sh
run=$2 lease=$3 who=$4 controller=$5 dead=${6:-}

# The start time of process $1 (field 22 of /proc/<pid>/stat; the fields before it hold no
# space for the processes asked about here: sshd and its session processes).
start_time() {
  read -r stat <"/proc/$1/stat" || return 0
  # shellcheck disable=SC2086 # split into fields on purpose
  set -- $stat
  shift 21
  echo "$1"
}

# "<pid> <start time>" of this connection's sshd process: our first ancestor named sshd
# (OpenSSH before 9.8) or sshd-session (9.8 and later, whose listener is the "sshd" above
# it). Empty when there is none; "gone" when the chain ends in a shell or sudo that init
# adopted: the connection closed under this script. Shell builtins only: this runs in every
# locking command run.
connection() {
  pid=$$ top=""
  while [ "$pid" -gt 1 ] 2>/dev/null; do
    comm=""
    read -r comm <"/proc/$pid/comm" 2>/dev/null || true
    case $comm in
    sshd | sshd-session)
      echo "$pid $(start_time "$pid")"
      return
      ;;
    esac
    top=$comm
    parent=""
    while read -r key value; do
      if [ "$key" = PPid: ]; then
        parent=$value
        break
      fi
    done <"/proc/$pid/status" 2>/dev/null || true
    pid=$parent
  done
  case $top in sh | dash | bash | sudo | env) echo gone ;; esac
}

# The /proc/<pid>/environ files of the scripts of run $1 still running here (their
# environment names it); fails when there are none.
scripts_of() {
  grep -lzxF "CLUSTER_DEPLOY_RUN=$1" /proc/[0-9]*/environ 2>/dev/null
}

# Waits up to 10 s for the scripts of run $1 to end, then kills what is left: a stale
# lock's run may still be hashing or switching here.
end_scripts_of() {
  left=""
  for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
    left=$(scripts_of "$1" || true)
    [ -n "$left" ] || return 0
    sleep 0.5
  done
  for f in $left; do
    p=${f#/proc/}
    kill -KILL "${p%/environ}" 2>/dev/null || true
  done
}

# True while the connection "<pid> <start time>" is open (unknown counts as open).
connection_open() {
  [ -z "$1" ] && return 0
  # shellcheck disable=SC2086 # "<pid> <start time>": two words
  set -- $1
  [ -r "/proc/$1/stat" ] && [ "$(start_time "$1")" = "$2" ]
}

mine=$(connection)
if [ "$mine" = gone ]; then
  echo "the connection of run $run closed while it was taking the lock: nothing taken" >&2
  exit 6
fi
umask 077
[ -d "$run_dir" ] || mkdir -p "$run_dir"
exec 8>"$run_dir/.lock-guard"
if ! flock -w 10 8; then
  echo "locked (someone is taking the lock right now) since - 0"
  exit 5
fi
if [ -f "$lock_record" ]; then
  holder="" holder_lease="" holder_connection="" holder_who="" holder_since="" holder_controller=""
  while read -r key value; do
    case $key in
    run) holder=$value ;;
    lease) holder_lease=$value ;;
    connection) holder_connection=$value ;;
    who) holder_who=$value ;;
    since) holder_since=$value ;;
    controller) holder_controller=$value ;;
    esac
  done <"$lock_record"
  if [ "$holder" != "$run" ]; then
    age=$(($(date +%s) - $(stat -c %Y "$lock_record")))
    if [ "$holder" != "$dead" ] && connection_open "$holder_connection" &&
      { [ "$age" -lt "${holder_lease:-0}" ] || scripts_of "$holder" >/dev/null; }; then
      seconds_left=$((holder_lease - age))
      echo "locked $holder_who since $holder_since $((seconds_left > 0 ? seconds_left : 0))"
      echo "holder $holder $holder_controller"
      exit 5
    fi
    if [ -n "$holder" ]; then
      end_scripts_of "$holder"
      if [ "$holder" = "$dead" ]; then
        why=dead
      elif [ "$age" -ge "${holder_lease:-0}" ]; then
        why=lease
      else
        why=connection
      fi
      echo "stale $holder $why $holder_who since $holder_since"
    fi
  fi
fi
printf 'run %s\nlease %s\nwho %s\nsince %s\nconnection %s\ncontroller %s\n' "$run" "$lease" "$who" \
  "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$mine" "$controller" >"$lock_record.tmp"
mv -f "$lock_record.tmp" "$lock_record"
