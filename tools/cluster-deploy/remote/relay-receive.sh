#!/bin/sh
# relay-receive.sh <inbox> <outbox>   (the forced command of a deploy's relay key: runs as the
# relay user when another node passes a file on or reads one; $SSH_ORIGINAL_COMMAND says which)
#
# "<sha256>": takes the file on stdin into <inbox>/<sha256>, whole or not at all. Nothing
# counts it yet: relay-adopt.sh, run as root for the controller, checks its hash first.
# "stream <sha256> <bytes>": writes <outbox>/<sha256> to stdout while this node's root takes it
# (relay-take.sh, which names its process in <sha256>.pid), from its first byte on, until
# <bytes> are out or the taking process has ended; waits up to 60 s for the taking to begin.
# The reader checks the hash of what it got; nothing here is trusted.
# relay-open.sh installs this file beside the key; it does not source the prelude.
set -eu
fail() {
  echo "relay-receive.sh: $1" >&2
  exit 2
}
check_sha() {
  case $1 in
  *[!0-9a-f]* | "") fail "expected a sha256, got '$1'" ;;
  esac
  [ "${#1}" -eq 64 ] || fail "expected a sha256 of 64 hex digits"
}
set -f # split on purpose, never expanded: the words are checked one by one below
# shellcheck disable=SC2086
set -- "$1" "$2" ${SSH_ORIGINAL_COMMAND:-}
inbox=$1 outbox=$2
shift 2
if [ "${1:-}" != stream ]; then
  [ $# -eq 1 ] || fail "expected a sha256"
  check_sha "$1"
  umask 077
  cat >"$inbox/$1.part"
  mv -f "$inbox/$1.part" "$inbox/$1"
  exit 0
fi
[ $# -eq 3 ] || fail "expected: stream <sha256> <bytes>"
check_sha "$2"
case $3 in
*[!0-9]* | "") fail "expected a byte count, got '$3'" ;;
esac
file=$outbox/$2
waited=0
until [ -f "$file.pid" ] && [ -f "$file" ]; do
  waited=$((waited + 1))
  [ "$waited" -le 600 ] || fail "this node did not begin to take $2 within 60 s"
  sleep 0.1
done
# -f --pid: follow the file as it grows, and read the rest once the taking process ends (also
# when it failed half-way: the reader's hash check tells). head ends the stream at <bytes>.
tail -c +1 -s 0.1 -f --pid="$(cat "$file.pid")" "$file" | head -c "$3"
