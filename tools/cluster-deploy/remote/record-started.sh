#!/bin/sh
# record-started.sh <cluster> <service> <digest>   (run as root)
#
# Records the digest of the files <service> was last started healthy from (or "none"):
# a service restarts when its files' digest differs from this record.
set -e
# shellcheck source=prelude.sh
. ./prelude.sh
mkdir -p "$root/started"
printf '%s\n' "$3" >"$root/started/.$2.tmp"
mv -f "$root/started/.$2.tmp" "$root/started/$2"
