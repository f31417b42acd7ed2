#!/bin/sh
# state.sh <cluster>   (run as root)
#
# What the node has: "current <id>", "release <id>" per release kept, the current
# release's manifest as "file <sha256>  <path>", "unit <sha256> <name>" per unit of ours,
# "started <service> <digest>" per service a deploy started healthy, "lock <run>" when a run
# holds the node (lock.sh; "-" when its record names none). Changes nothing.
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
# Our units (is_our_unit), hashed by one grep and one sha256sum for all of them: unit names
# are <cluster>-<service>.service, without spaces.
set --
for u in "$unit_dir/$cluster"-*.service; do [ ! -f "$u" ] || set -- "$@" "$u"; done
ours=""
[ $# -eq 0 ] || ours=$(grep -lxF -e "$unit_mark" -- "$@" || true)
if [ -n "$ours" ]; then
  # shellcheck disable=SC2086 # one word per unit file
  sha256sum $ours | while read -r sum u; do echo "unit $sum ${u##*/}"; done
fi
for f in "$root"/started/*; do
  [ -f "$f" ] || continue
  read -r digest <"$f" || true
  echo "started ${f##*/} $digest"
done
# A deploy that finds nothing to change takes no lock (read_first.hpp), only while none is held.
if [ -f "$lock_record" ]; then
  lock_run=-
  while read -r key value; do [ "$key" != run ] || lock_run=$value; done <"$lock_record" 2>/dev/null || true
  echo "lock $lock_run"
fi
exit 0
