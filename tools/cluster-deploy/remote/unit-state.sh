#!/bin/sh
# unit-state.sh <cluster> <service> failures|-   (run as root)
#
# Prints the unit's systemd state as Key=Value lines, "Uptime=<seconds>" when active and,
# with "failures", one "Failure=<result>" per "Failed with result" journal entry
# (SD_MESSAGE_UNIT_FAILURE_RESULT) since the unit file or the started record was
# written, whichever is later: a restart (Restart=always) does not hide them.
# Changes nothing.
# shellcheck source=prelude.sh
. ./prelude.sh
unit=$(unit_name "$2")
systemctl show -p LoadState -p ActiveState -p SubState -p Result -p MainPID -p NRestarts "$unit"
t=$(systemctl show -p ActiveEnterTimestampMonotonic --value "$unit")
now=$(cut -d' ' -f1 /proc/uptime)
if [ "$(systemctl show -p ActiveState --value "$unit")" = active ] && [ -n "$t" ] && [ "$t" != 0 ]; then
  echo "Uptime=$((${now%.*} - t / 1000000))"
fi
[ "$3" = failures ] || exit 0
since=$(stat -c %Y "$unit_dir/$unit" "$root/started/$2" 2>/dev/null | sort -n | tail -n 1)
[ -n "$since" ] || exit 0
journalctl -q --no-pager -o cat --output-fields=UNIT_RESULT UNIT="$unit" \
  MESSAGE_ID=d9b373ed55a64feb8242e02dbe79a49c --since "@$since" 2>/dev/null |
  sed -n 's/^\([a-z-]*\)$/Failure=\1/p'
exit 0
