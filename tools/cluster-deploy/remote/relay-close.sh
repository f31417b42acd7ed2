#!/bin/sh
# relay-close.sh <cluster>   (run as root)
#
# Ends this node's part in a deploy's fan-out: removes the deploy's key (both halves), the
# forced command, the inbox and the outbox, and stops any transfer still arriving or read. The relay account
# stays, with no key (clean.sh removes it).
# shellcheck source=prelude.sh
. ./prelude.sh
rm -f "$relay_home/.ssh/authorized_keys" "$relay_home/receive.sh"
if getent passwd "$relay_user" >/dev/null && [ "$(getent passwd "$relay_user" | cut -d: -f5)" = "$relay_mark" ]; then
  pkill -KILL -u "$relay_user" 2>/dev/null || true
fi
rm -rf "$relay_inbox" "$relay_outbox" "$relay_run"
exit 0
