#!/bin/sh
# fault.sh <cluster> <id> <seconds> <heal.sh sha256> <kind> [arguments...]   (run as root; stdin: heal.sh)
#
# Applies one fault to this node. The timer that heals it is armed first, so the fault
# heals itself after <seconds> even if the controller dies at any point after that.
# What the fault changed is written to /run/cluster-deploy/<cluster>/faults/<id> (gone
# at reboot, like the fault itself); heal.sh undoes exactly that and nothing else. Both
# hold <dir>/.lock, so a timer that fires while the fault is still being applied waits.
#
# kinds:
#   partition <address>...  drop every packet from these addresses (our own nft table)
#   loss <percent> <address>... drop that share of the packets from these addresses, at random
#                           (nft numgen: a lossy link; Jepsen's default is 20)
#   slow <bytes/s> <address>... take at most that many bytes a second from each of these
#                           addresses, drop the rest (nft limit: a slow link, one limit each)
#   kill <unit>...          SIGKILL the units' main processes (Restart= brings them back)
#   kill-keep-down <unit>... SIGKILL the units' main processes and keep the units stopped
#   stop <unit>...          stop the units
#   clock <+S|-S> <unit>... restart the units with libfaketime preloaded (a runtime drop-in of
#                           ours): their clock runs S seconds ahead or behind; the node's does not
# (heal starts again only the units that were active before the fault)
#   disk-full <service>...  fill the file system of each service's data folder with a file of
#                           ours (fallocate: what an unprivileged user may still use), so the
#                           services' writes fail with ENOSPC; root keeps the file system's reserve
#   corrupt bitflip|truncate <number> <service> <file>
#                           bitflip: flip one bit of <file> under the service's data folder (bit
#                           and byte from <number>); truncate: cut off its last half (at most
#                           16 MiB). Heal undoes it while the file is still as we left it.
#   pause <unit>...         freeze the units (cgroup freezer; SIGSTOP of their processes where
#                           the freezer is missing)
set -eu
# shellcheck source=prelude.sh
. ./prelude.sh
id=$2 seconds=$3 heal_sha=$4 kind=$5
shift 5

if [ "$kind" = kill ]; then
  # Instant: nothing stays changed, nothing to heal. --kill-who, not --kill-whom: systemd
  # 247 (Debian 11) knows only the first, 252 and later both.
  systemctl kill --kill-who=main --signal=SIGKILL -- "$@"
  say_in_journal "fault $id kill: $*"
  exit 0
fi
if { [ "$kind" = partition ] || [ "$kind" = loss ] || [ "$kind" = slow ]; } && ! command -v nft >/dev/null 2>&1; then
  echo "$kind faults need nftables on the node (nft not found)" >&2
  exit 3
fi

dir=$run_dir
umask 077
mkdir -p "$dir/faults"
# A controller that dies while we run must not cut us short: the timer below heals what we do.
trap '' HUP PIPE
exec 9>"$dir/.lock"
if ! flock -w 60 9; then
  echo "another fault or heal of $cluster holds $dir/.lock: no fault applied" >&2
  exit 3
fi
# heal.sh comes on stdin: install it only whole (every timer of this cluster runs it).
cat >"$dir/.heal.sh.$id"
if [ "$(sha256_of "$dir/.heal.sh.$id")" != "$heal_sha" ]; then
  rm -f "$dir/.heal.sh.$id"
  echo "heal.sh arrived incomplete: no fault applied" >&2
  exit 3
fi
mv -f "$dir/.heal.sh.$id" "$dir/heal.sh"
record=$dir/faults/$id
table=$(table_prefix)$id
until=$(($(date +%s) + seconds))
# Timer first, then the record, then (below) each change after the record line that undoes it:
# cut short at any point, what is left is healed by the timer.
# A heal that fails to start or finish (seen: systemd could not place it in its cgroup,
# status 219/CGROUP, on a busy cgroup-v1 node) is tried again every 2 s, at most 10 times.
systemd-run --quiet --unit="$(heal_unit "$id")" --on-active="${seconds}s" \
  --timer-property=AccuracySec=100ms --timer-property=RemainAfterElapse=no \
  --property=Restart=on-failure --property=RestartSec=2 \
  --property=StartLimitIntervalSec=60 --property=StartLimitBurst=10 \
  --description="cluster-deploy: heal fault $id of $cluster" \
  /bin/sh "$dir/heal.sh" "$cluster" "$id"
{
  echo "kind $kind"
  echo "until $until"
} >"$record"

# What an unprivileged user may still write on the file system of folder $1, in bytes.
available_bytes() { df -B1 --output=avail "$1" | tail -n 1 | tr -d ' '; }

# Fills the file system of folder $2 up to what an unprivileged user may use, into the file $1:
# fallocate reserves the space without writing it, in halves when a whole chunk does not fit
# (the extents need blocks of their own); the last few blocks are written as zeros.
fill_up() {
  rounds=40
  while [ "$rounds" -gt 0 ] && [ "$(available_bytes "$2")" -gt 0 ]; do
    rounds=$((rounds - 1))
    chunk=$(available_bytes "$2") size=$(stat -c %s "$1" 2>/dev/null || echo 0)
    until fallocate -o "$size" -l "$chunk" "$1" 2>/dev/null; do
      chunk=$((chunk / 2))
      [ "$chunk" -ge 65536 ] || break 2
    done
  done
  if [ "$(available_bytes "$2")" -le 67108864 ]; then
    dd if=/dev/zero bs=4096 2>/dev/null >>"$1" || true
  fi
}

# From here on, a failure heals what was done so far, and takes back the timer armed above
# (healing by id leaves timers alone: it is what the timer itself runs).
# (We hold the lock: the heal we run here must not wait for it.)
trap 'CLUSTER_DEPLOY_LOCK_HELD=1 sh "$dir/heal.sh" "$cluster" "$id" >/dev/null 2>&1
  systemctl stop "$(heal_unit "$id").timer" 2>/dev/null' EXIT

case $kind in
partition | loss | slow)
  drop=drop
  case $kind in
  loss) drop="numgen random mod 100 < $1 drop" ;;
  slow) drop="limit rate over $1 bytes/second drop" ;;
  esac
  [ "$kind" = partition ] || shift
  v4="" v6=""
  for address in "$@"; do
    case $address in
    *:*) resolved=$address ;;
    *[!0-9.]*) resolved=$(getent ahosts "$address" | awk '{ print $1 }' | sort -u) ;;
    *) resolved=$address ;;
    esac
    if [ -z "$resolved" ]; then
      echo "this node cannot resolve $address: no rule added" >&2
      exit 3
    fi
    for a in $resolved; do
      case $a in *:*) v6="$v6${v6:+, }$a" ;; *) v4="$v4${v4:+, }$a" ;; esac
    done
  done
  echo "table $table" >>"$record"
  {
    echo "table inet $table {"
    echo "  chain input {"
    echo "    type filter hook input priority filter - 10; policy accept;"
    if [ "$kind" = slow ]; then
      # A limit of its own per address: each link is slow, not all of them together.
      for a in $(echo "$v4" | tr -d ,); do echo "    ip saddr $a $drop"; done
      for a in $(echo "$v6" | tr -d ,); do echo "    ip6 saddr $a $drop"; done
    else
      [ -z "$v4" ] || echo "    ip saddr { $v4 } $drop"
      [ -z "$v6" ] || echo "    ip6 saddr { $v6 } $drop"
    fi
    echo "  }"
    echo "}"
  } | nft -f -
  ;;
kill-keep-down | stop)
  for unit in "$@"; do
    if systemctl is-active --quiet -- "$unit"; then
      echo "start $unit" >>"$record"
    fi
    if [ "$kind" = kill-keep-down ]; then
      # The crash; stop then cancels the restart and ends any other process of the unit.
      systemctl kill --kill-who=main --signal=SIGKILL -- "$unit"
    fi
    systemctl stop -- "$unit"
  done
  ;;
clock)
  offset=$1
  shift
  lib=""
  for candidate in /usr/lib/*/faketime/libfaketime.so.1; do
    [ -f "$candidate" ] && lib=$candidate
  done
  if [ -z "$lib" ]; then
    echo "clock faults need libfaketime on the node (package libfaketime)" >&2
    exit 3
  fi
  for unit in "$@"; do
    dropin=/run/systemd/system/$unit.d/$(table_prefix)$id.conf
    echo "dropin $dropin" >>"$record"
    echo "restart $unit" >>"$record"
    mkdir -p "${dropin%/*}"
    printf '[Service]\nEnvironment=LD_PRELOAD=%s FAKETIME=%s FAKETIME_DONT_FAKE_MONOTONIC=1\n' \
      "$lib" "$offset" >"$dropin"
  done
  systemctl daemon-reload
  for unit in "$@"; do
    systemctl restart -- "$unit"
    # A Type=simple unit is "started" once forked: give its program up to 5 s to load.
    tries=25
    until pid=$(systemctl show -p MainPID --value -- "$unit") && [ "$pid" != 0 ] &&
      grep -q libfaketime "/proc/$pid/maps" 2>/dev/null; do
      tries=$((tries - 1))
      if [ "$tries" -le 0 ]; then
        echo "$unit did not load libfaketime: the node's libfaketime does not fit the glibc its program runs with" >&2
        exit 3
      fi
      sleep 0.2
    done
  done
  ;;
disk-full)
  filled=""
  for service in "$@"; do
    echo "affects $(unit_name "$service")" >>"$record"
    folder=$(data_folder "$service")
    if [ ! -d "$folder" ]; then
      echo "$service has no data folder on this node ($folder): nothing filled" >&2
      exit 3
    fi
    device=$(stat -c %d "$folder")
    case " $filled " in *" $device "*) continue ;; esac
    filled="$filled $device"
    # Next to our data folders when on their file system, else inside the service's own.
    filler=$data/.cluster-deploy-fill-$id-$device
    [ "$(stat -c %d "$data")" = "$device" ] || filler=$folder/.cluster-deploy-fill-$id-$device
    echo "fill $filler" >>"$record"
    fill_up "$filler" "$folder"
    left=$(available_bytes "$folder")
    if [ "$left" -gt 0 ]; then
      echo "cannot fill the file system of $folder: $left bytes left (it may not support fallocate)" >&2
      exit 3
    fi
  done
  ;;
corrupt)
  mode=$1 number=$2 file=$(data_folder "$3")/$4
  echo "affects $(unit_name "$3")" >>"$record"
  if [ ! -f "$file" ] || [ -L "$file" ]; then
    echo "$file is not a regular file: nothing corrupted" >&2
    exit 3
  fi
  size=$(stat -c %s "$file")
  if [ "$size" -eq 0 ]; then
    echo "$file is empty: nothing to corrupt" >&2
    exit 3
  fi
  if [ "$mode" = bitflip ]; then
    offset=$((number / 8 % size)) bit=$((number % 8))
    byte=$(od -An -tu1 -j "$offset" -N1 -- "$file" | tr -d ' ')
    flip_byte "$file" "$offset" $((byte ^ (1 << bit)))
    echo "unflip $file $offset $byte $(sha256_of "$file")" >>"$record"
  else
    cut=$((size / 2))
    [ "$cut" -le 16777216 ] || cut=16777216
    tail -c "$cut" -- "$file" >"$record.tail"
    truncate -s $((size - cut)) -- "$file"
    echo "untruncate $file $((size - cut)) $record.tail $(sha256_of "$file")" >>"$record"
  fi
  ;;
pause)
  for unit in "$@"; do
    if systemctl freeze -- "$unit" 2>/dev/null; then
      echo "thaw $unit" >>"$record"
      continue
    fi
    # No cgroup freezer for this unit (cgroup v1): SIGSTOP each of its processes, and note
    # them so that heal resumes exactly these. PID 0 stands for processes of other PID namespaces.
    cgroup=$(systemctl show -p ControlGroup --value -- "$unit")
    pids=""
    for procs in "/sys/fs/cgroup$cgroup/cgroup.procs" "/sys/fs/cgroup/unified$cgroup/cgroup.procs" \
      "/sys/fs/cgroup/systemd$cgroup/cgroup.procs"; do
      if [ -z "$cgroup" ] || [ ! -r "$procs" ]; then continue; fi
      pids=$(grep -vx 0 "$procs" | tr '\n' ' ') || true
      [ -z "$pids" ] || break
    done
    if [ -z "$pids" ]; then
      echo "$unit runs no process to pause" >&2
      exit 3
    fi
    echo "cont $unit $pids" >>"$record"
    # shellcheck disable=SC2086 # one word per pid
    kill -s STOP $pids
  done
  ;;
*)
  echo "unknown fault kind '$kind'" >&2
  exit 2
  ;;
esac
trap - EXIT
say_in_journal "fault $id $kind for ${seconds}s: $*"
