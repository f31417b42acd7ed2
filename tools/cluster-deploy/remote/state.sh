#!/bin/sh
# state.sh <cluster>   (run as root)
#
# What the node has: "current <id>", "release <id>" per release kept, the current
# release's manifest as "file <sha256>  <path>", "unit <sha256> <name>" per unit of ours,
# "started <service> <digest>" per service a deploy started healthy. Changes nothing.
# shellcheck source=prelude.sh
. ./prelude.sh
current=$(readlink "$root/current" 2>/dev/null || true)
echo "current ${current##*/}"
for d in "$root"/releases/*/; do
  [ -d "$d" ] || continue
  d=${d%/}
  echo "release ${d##*/}"
done
[ ! -f "$root/current/MANIFEST" ] || sed 's/^/file /' "$root/current/MANIFEST"
for u in "$unit_dir/$cluster"-*.service; do
  is_our_unit "$u" || continue
  echo "unit $(sha256sum <"$u" | cut -d' ' -f1) ${u##*/}"
done
for f in "$root"/started/*; do
  [ ! -f "$f" ] || echo "started ${f##*/} $(cat "$f")"
done
exit 0
