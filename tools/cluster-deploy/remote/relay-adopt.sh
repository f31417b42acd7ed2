#!/bin/sh
# relay-adopt.sh <cluster> <release> <path> <sha256>   (run as root)
#
# Takes a file another node passed on (relay-receive.sh) out of the relay inbox into the
# staging folder of <release> at <path>: it counts only if its content has the sha256.
# It is moved into root's folder first and checked there, so the relay account cannot
# change it after the check. Exit 3: it did not arrive, or arrived damaged.
set -e
# shellcheck source=prelude.sh
. ./prelude.sh
got=$relay_inbox/$4
file=$root/releases/.staging-$2/$3
if [ ! -f "$got" ]; then
  echo "$3 did not arrive" >&2
  exit 3
fi
mkdir -p "$(dirname "$file")"
mv -f "$got" "$file.part"
chown root:root "$file.part"
chmod 0600 "$file.part"
if [ "$(sha256sum <"$file.part" | cut -d' ' -f1)" != "$4" ]; then
  rm -f "$file.part"
  echo "$3 arrived damaged (its sha256 differs)" >&2
  exit 3
fi
mv -f "$file.part" "$file"
