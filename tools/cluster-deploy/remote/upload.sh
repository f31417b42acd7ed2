#!/bin/sh
# upload.sh <cluster> <release> <path>   (run as root; stdin: the file's content)
#
# Writes one file of <release> into its staging folder, whole or not at all: root's
# alone (0600) until seal.sh sets the final modes, so a config holding a secret is
# never world-readable, not even after an interrupted upload.
set -e
# shellcheck source=prelude.sh
. ./prelude.sh
file=$root/releases/.staging-$2/$3
umask 077
mkdir -p "$(dirname "$file")"
cat >"$file.part"
mv -f "$file.part" "$file"
