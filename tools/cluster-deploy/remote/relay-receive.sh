#!/bin/sh
# relay-receive.sh <inbox>   (the forced command of a deploy's relay key: runs as the relay
# user when another node passes a file on; $SSH_ORIGINAL_COMMAND: the file's sha256)
#
# Takes the file on stdin into <inbox>/<sha256>, whole or not at all. Nothing counts it
# yet: relay-adopt.sh, run as root for the controller, checks its hash first.
# relay-open.sh installs this file beside the key; it does not source the prelude.
set -eu
sha=${SSH_ORIGINAL_COMMAND:-}
case $sha in
*[!0-9a-f]* | "")
  echo "relay-receive.sh: expected a sha256, got '$sha'" >&2
  exit 2
  ;;
esac
if [ "${#sha}" -ne 64 ]; then
  echo "relay-receive.sh: expected a sha256 of 64 hex digits" >&2
  exit 2
fi
umask 077
cat >"$1/$sha.part"
mv -f "$1/$sha.part" "$1/$sha"
