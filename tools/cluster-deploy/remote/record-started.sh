#!/bin/sh
# record-started.sh <cluster> <service> <digest> [<main pid>|running]   (run as root)
#
# Records the digest of the files <service> was last started healthy from (or "none"):
# a service restarts when its files' digest differs from this record.
# With a fourth argument it is the last step of a health look (NodeOps::unit_state_and_probe)
# and records only while the unit runs (active, running), as that main process unless
# "running", and when the look's probe, the batch's step before, passed ($cd_status, node_ops.hpp);
# otherwise it records nothing and exits 3.
set -e
# shellcheck source=prelude.sh
. ./prelude.sh
if [ -n "${4:-}" ]; then
  [ "${cd_status:-}" = 0 ] || exit 3
  active="" sub="" pid=""
  while IFS='=' read -r key value; do
    case $key in ActiveState) active=$value ;; SubState) sub=$value ;; MainPID) pid=$value ;; esac
  done <<EOF
$(systemctl show -p ActiveState -p SubState -p MainPID "$(unit_name "$2")")
EOF
  [ "$active $sub" = "active running" ] && { [ "$4" = running ] || [ "$4" = "$pid" ]; } || exit 3
fi
[ -d "$root/started" ] || mkdir -p "$root/started"
printf '%s\n' "$3" >"$root/started/.$2.tmp"
mv -f "$root/started/.$2.tmp" "$root/started/$2"
