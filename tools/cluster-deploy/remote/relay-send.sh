#!/bin/sh
# relay-send.sh <cluster> <release> <path> <sha256> <user@address> <port>   (run as root;
# stdin: the receiver's known_hosts lines)
#
# Passes one file of <release> on to another node of the deploy's fan-out, over SSH with
# the deploy's key (relay-open.sh), checking the receiver's host key strictly against what
# the controller read from that node. The file is the one staged here, or the one another
# node passed on to this one (still in the relay inbox, unchecked: every receiver's
# relay-adopt.sh checks what it got, and what arrived damaged is sent from the controller).
# How it connects: relay_ssh in prelude.sh.
set -e
# shellcheck source=prelude.sh
. ./prelude.sh
file=$root/releases/.staging-$2/$3
if [ ! -f "$file" ]; then
  file=$relay_inbox/$4
  if [ ! -f "$file" ]; then
    echo "$3 is neither staged nor in the relay inbox here" >&2
    exit 3
  fi
fi
if [ ! -f "$relay_run/key" ]; then
  echo "this node holds no relay key (relay-open.sh did not run)" >&2
  exit 5
fi
hosts=$(mktemp "$relay_run/known_hosts.XXXXXX")
trap 'rm -f "$hosts"' EXIT
cat >"$hosts"
relay_ssh "$hosts" "$6" "$5" "$4" <"$file" || {
  status=$?
  echo "ssh to $5 port $6 failed (exit $status)" >&2
  exit "$status"
}
