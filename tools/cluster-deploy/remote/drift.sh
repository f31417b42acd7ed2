#!/bin/sh
# drift.sh <cluster>   (run as root)
#
# Prints every file of the current release whose content is no longer what its manifest
# says, and every installed unit that differs from the release's copy. Changes nothing.
# shellcheck source=prelude.sh
. ./prelude.sh
[ -f "$root/current/MANIFEST" ] || exit 0
cd "$root/current" && sha256sum --quiet -c MANIFEST 2>/dev/null | sed 's/: .*//'
for f in units/*.service; do
  [ -f "$f" ] || continue
  cmp -s "$f" "$unit_dir/${f#units/}" || echo "$unit_dir/${f#units/}"
done
exit 0
