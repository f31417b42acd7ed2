#!/bin/sh
# relay-send.sh <cluster> <release> <path> <sha256> <user@address> <port>   (run as root;
# stdin: the receiver's known_hosts lines)
#
# Passes one file of <release> on to another node of the deploy's fan-out, over SSH with
# the deploy's key (relay-open.sh), checking the receiver's host key strictly against what
# the controller read from that node. The file is the one staged here, or the one another
# node passed on to this one (still in the relay inbox, unchecked: every receiver's
# relay-adopt.sh checks what it got, and what arrived damaged is sent from the controller).
# The node's own ssh configuration, agent and keys are not used, and nothing is forwarded.
# Every wait is bounded: 5 s to connect, 9 s without an answer. Each hop is a connection
# of its own, so the key exchange is curve25519: OpenSSH's post-quantum default costs a
# busy node about 0.15 s more per connection, for a key that lives a few minutes and
# files that are no secret (configs are never passed on). AES-GCM first: the nodes' CPUs
# do AES in hardware, and passing on is bound by their CPU.
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
ssh -F /dev/null -T -i "$relay_run/key" -o IdentitiesOnly=yes -o IdentityAgent=none -o BatchMode=yes \
  -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$hosts" -o GlobalKnownHostsFile=/dev/null \
  -o ConnectTimeout=5 -o ServerAliveInterval=3 -o ServerAliveCountMax=3 \
  -o KexAlgorithms=curve25519-sha256,curve25519-sha256@libssh.org \
  -o Ciphers=aes128-gcm@openssh.com,chacha20-poly1305@openssh.com \
  -o ForwardAgent=no -o ClearAllForwardings=yes -o LogLevel=ERROR \
  -p "$6" "$5" "$4" <"$file" || {
  status=$?
  echo "ssh to $5 port $6 failed (exit $status)" >&2
  exit "$status"
}
