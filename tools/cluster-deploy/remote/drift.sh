#!/bin/sh
# drift.sh <cluster>   (run as root)
#
# Prints every file of the current release whose content is no longer what its manifest
# says, and every installed unit that differs from the release's copy. Changes nothing.
#
# activate.sh recorded how those files looked (record_file_stats) right after it installed
# them: when stat(1) still says the same of every one (inode, size, modification and change
# time to the nanosecond; a change time cannot be set back by anything short of the clock),
# nothing changed and nothing is read. Else every file is hashed, as without the record.
# shellcheck source=prelude.sh
. ./prelude.sh
[ -f "$root/current/MANIFEST" ] || exit 0
cd "$root/current" || exit 0
if [ -f .stat ] && file_stats | cmp -s - .stat; then
  exit 0
fi
while read -r sum path; do
  [ "$(sha256_of "$path")" = "$sum" ] || echo "$path"
done <MANIFEST
for f in units/*.service; do
  [ -f "$f" ] || continue
  cmp -s "$f" "$unit_dir/${f#units/}" || echo "$unit_dir/${f#units/}"
done
exit 0
