#!/bin/sh
# relay-take.sh <cluster> <release> <path> <sha256> <bytes> [<user@address> <port>]   (run as
# root; stdin: the file's content, or with a node, that node's known_hosts lines)
#
# Takes one file of <release> into its staging folder, whole and with this sha256 or not at
# all, while the nodes below this one in the deploy's fan-out read it as it arrives: a stream,
# not store and forward. The content comes on stdin from the controller, or from the node
# given, which is taking it itself (relay-receive.sh "stream" there). Root hashes what arrived
# (from the page cache: ssh writes straight into the part, in its own large writes); the part is
# root's, readable by the relay account only through the outbox (seal.sh gives every file its
# final owner and mode).
# Only programs and libraries pass on, never configs. How it connects: relay_ssh in
# prelude.sh; a reader of this node's outbox waits for the taking to begin at most 60 s.
# Exits 3 when what arrived is short or damaged (the part is removed).
set -e
# shellcheck source=prelude.sh
. ./prelude.sh
file=$root/releases/.staging-$2/$3
part=$root/releases/.partial/$4
if [ ! -d "$relay_outbox" ]; then
  echo "this node has no relay outbox (relay-open.sh did not run)" >&2
  exit 5
fi
umask 077
mkdir -p "$(dirname "$file")" "$root/releases/.partial"
rm -f "$part" "$relay_outbox/$4" "$relay_outbox/$4.pid"
: >"$part"
chgrp "$relay_user" "$part"
chmod 0640 "$part"
ln "$part" "$relay_outbox/$4"
echo $$ >"$relay_outbox/$4.pid.new"
chgrp "$relay_user" "$relay_outbox/$4.pid.new"
chmod 0640 "$relay_outbox/$4.pid.new"
mv -f "$relay_outbox/$4.pid.new" "$relay_outbox/$4.pid"
if [ $# -ge 7 ]; then
  hosts=$(mktemp "$relay_run/known_hosts.XXXXXX")
  trap 'rm -f "$hosts"' EXIT
  cat >"$hosts"
  relay_ssh "$hosts" "$7" "$6" "stream $4 $5" >>"$part" || true # what arrived is checked below
else
  cat >>"$part"
fi
size=$(stat -c %s "$part")
if [ "$size" != "$5" ] || [ "$(sha256sum <"$part" | cut -d' ' -f1)" != "$4" ]; then
  rm -f "$part"
  echo "$3: $size of $5 bytes arrived${6:+ from $6}$([ "$size" != "$5" ] || echo ", damaged")" >&2
  exit 3
fi
mv -f "$part" "$file"
