#!/bin/sh
# unit-state.sh <cluster> <service> failures|-   (run as root)
#
# Prints the unit's systemd state as Key=Value lines, "Uptime=<seconds>" and
# "UptimeMs=<milliseconds>" (since systemd last had it enter "active") when active and,
# with "failures", one "Failure=<result>" per "Failed with result" journal entry
# (SD_MESSAGE_UNIT_FAILURE_RESULT) since the unit file or the started record was
# written, whichever is later: a restart (Restart=always) does not hide them.
# Changes nothing.
# shellcheck source=prelude.sh
. ./prelude.sh
unit=$(unit_name "$2")
# One systemctl call; the uptime is worked out here from its start time (shell builtins).
show=$(systemctl show -p LoadState -p ActiveState -p SubState -p Result -p MainPID -p NRestarts \
  -p ActiveEnterTimestampMonotonic "$unit")
active="" entered=""
while IFS='=' read -r key value; do
  case $key in
  ActiveEnterTimestampMonotonic) entered=$value ;;
  *)
    [ "$key" != ActiveState ] || active=$value
    printf '%s=%s\n' "$key" "$value"
    ;;
  esac
done <<EOF
$show
EOF
if [ "$active" = active ] && [ -n "$entered" ] && [ "$entered" != 0 ]; then
  set_up_ms "$entered"
  echo "Uptime=$((up_ms / 1000))"
  echo "UptimeMs=$up_ms"
fi
[ "$3" = failures ] || exit 0
since=""
for t in $(stat -c %Y "$unit_dir/$unit" "$root/started/$2" 2>/dev/null); do
  [ -n "$since" ] && [ "$t" -le "$since" ] || since=$t
done
[ -n "$since" ] || exit 0
journalctl -q --no-pager -o cat --output-fields=UNIT_RESULT UNIT="$unit" \
  MESSAGE_ID=d9b373ed55a64feb8242e02dbe79a49c --since "@$since" 2>/dev/null |
  while read -r result; do
    case $result in *[!a-z-]*) ;; *) echo "Failure=$result" ;; esac
  done
exit 0
