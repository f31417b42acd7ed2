#!/bin/sh
# clean.sh <cluster> purge|keep [<service>...]   (run as root)
#
# Stops and removes every unit of ours (those of the named services and any other that
# carries our mark), /opt/<cluster> and the fan-out's relay account (unlock.sh, the run's
# last call, then removes the installed node scripts); with "purge" also the services' data. Refuses folders without our mark.
# shellcheck source=prelude.sh
. ./prelude.sh
purge=$2
shift 2
refuse_unless_ours "to clean"
for s in "$@"; do systemctl disable --now -q "$(unit_name "$s")" 2>/dev/null || true; done
for u in "$unit_dir/$cluster"-*.service; do
  is_our_unit "$u" || continue
  systemctl disable --now -q "${u##*/}" 2>/dev/null || true
  rm -f "$u"
done
systemctl daemon-reload
systemctl reset-failed 2>/dev/null || true
rm -rf "$root" "$relay_run"
if getent passwd "$relay_user" >/dev/null && [ "$(getent passwd "$relay_user" | cut -d: -f5)" = "$relay_mark" ]; then
  pkill -KILL -u "$relay_user" 2>/dev/null || true
  userdel "$relay_user" 2>/dev/null || true
fi
if [ "$purge" = purge ]; then rm -rf "$data" "$private_data"; fi
exit 0
