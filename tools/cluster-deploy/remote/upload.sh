#!/bin/sh
# upload.sh <cluster> <release> <path> <sha256> <bytes> <from>   (run as root; stdin: the
# file's content from byte <from> on)
#
# Writes one file of <release> into its staging folder, whole and with this sha256 or not
# at all: root's alone (0600) until seal.sh sets the final modes, so a config holding a
# secret is never world-readable, not even after an interrupted upload. The bytes arrive in
# releases/.partial/<sha256> (0700 folder), which an interrupted upload leaves behind:
# prepare.sh lists it and the next upload of that content sends only the rest (<from> is its
# length). Exits 3 when the file is damaged (the part is removed), 5 when the part is not
# <from> bytes long, 6 when fewer than <bytes> arrived (the part is kept).
set -e
# shellcheck source=prelude.sh
. ./prelude.sh
file=$root/releases/.staging-$2/$3
part=$root/releases/.partial/$4
bytes=$5
from=$6
umask 077
mkdir -p "${file%/*}" "$root/releases/.partial" # no dirname: each process a file costs every node
if [ "$from" = 0 ]; then
  : >"$part"
elif [ "$(stat -c %s "$part" 2>/dev/null)" != "$from" ]; then
  echo "$3: the part uploaded earlier is not $from bytes long" >&2
  exit 5
fi
cat >>"$part"
size=$(stat -c %s "$part")
if [ "$size" -lt "$bytes" ]; then
  echo "$3: $size of $bytes bytes arrived; the next deploy sends the rest" >&2
  exit 6
fi
sum=$(sha256_of "$part")
if [ "$size" != "$bytes" ] || [ "$sum" != "$4" ]; then
  rm -f "$part"
  echo "$3 arrived damaged (its sha256 differs)" >&2
  exit 3
fi
mv -f "$part" "$file"
