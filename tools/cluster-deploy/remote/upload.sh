#!/bin/sh
# upload.sh <cluster> <release> <path> <sha256>   (run as root; stdin: the file's content)
#
# Writes one file of <release> into its staging folder, whole and with this sha256 or not
# at all (exit 3): root's alone (0600) until seal.sh sets the final modes, so a config
# holding a secret is never world-readable, not even after an interrupted upload.
set -e
# shellcheck source=prelude.sh
. ./prelude.sh
file=$root/releases/.staging-$2/$3
umask 077
mkdir -p "$(dirname "$file")"
cat >"$file.part"
if [ "$(sha256sum <"$file.part" | cut -d' ' -f1)" != "$4" ]; then
  rm -f "$file.part"
  echo "$3 arrived damaged (its sha256 differs)" >&2
  exit 3
fi
mv -f "$file.part" "$file"
