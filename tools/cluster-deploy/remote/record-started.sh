#!/bin/sh
# record-started.sh <cluster> <service> <digest> [<main pid>|running [<least ms> <most ms>]]   (run as root)
#
# Records the digest of the files <service> was last started healthy from (or "none"):
# a service restarts when its files' digest differs from this record.
# With a fourth argument it is the last step of a health look (NodeOps::unit_state_and_probe)
# and records only while the unit runs (active, running), as that main process unless
# "running", and when the look's probe, the batch's step before, passed ($cd_status, node_ops.hpp);
# with <least ms> and <most ms>, only when the unit has been active at least the one (its settle
# window, which the controller could only know after the look) and at most the other (the time
# since the controller asked for the start, counted when it sent the look, plus how long the
# look's batch has run since it began, $cd_began: an older process is not the one it started);
# otherwise it records nothing and exits 3.
set -e
# shellcheck source=prelude.sh
. ./prelude.sh
if [ -n "${4:-}" ]; then
  [ "${cd_status:-}" = 0 ] || exit 3
  active="" sub="" pid="" entered=""
  while IFS='=' read -r key value; do
    case $key in
    ActiveState) active=$value ;; SubState) sub=$value ;; MainPID) pid=$value ;;
    ActiveEnterTimestampMonotonic) entered=$value ;;
    esac
  done <<EOF
$(systemctl show -p ActiveState -p SubState -p MainPID -p ActiveEnterTimestampMonotonic "$(unit_name "$2")")
EOF
  [ "$active $sub" = "active running" ] && { [ "$4" = running ] || [ "$4" = "$pid" ]; } || exit 3
  if [ -n "${6:-}" ]; then
    [ -n "$entered" ] && [ "$entered" != 0 ] || exit 3
    read -r now _ </proc/uptime
    set_ms "$now"
    now_ms=$ms up_ms=$((ms - entered / 1000)) most=$6
    if [ -n "${cd_began:-}" ]; then
      set_ms "$cd_began"
      most=$((most + now_ms - ms))
    fi
    [ "$up_ms" -ge "$5" ] && [ "$up_ms" -le "$most" ] || exit 3
  fi
fi
[ -d "$root/started" ] || mkdir -p "$root/started"
printf '%s\n' "$3" >"$root/started/.$2.tmp"
mv -f "$root/started/.$2.tmp" "$root/started/$2"
