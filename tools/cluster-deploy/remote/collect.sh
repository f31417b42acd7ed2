#!/bin/sh
# collect.sh <cluster> <since> <until> <max bytes> <service>...   (run as root)
#
# This node's part of a failed test's evidence, for the window <since>..<until> (seconds
# since the epoch). Prints sections "== <name>", logs first (a later step may run out of time):
#   journal  the services' journal, systemd's lines about their units, their core dumps' lines
#            and our fault/heal lines (tag cluster-deploy-<cluster>): journalctl's JSON, one
#            entry a line, at most <max bytes>
#   current  the release id `current` points to ("-" when there is none)
#   status   `systemctl status` of the services' units, without their log lines
#   kernel   the kernel's lines of the window, where this node's journal has them
#   cores    systemd-coredump's list of the window's dumps of the services
# Reads only: it changes nothing on the node.
set -u
# shellcheck source=prelude.sh
. ./prelude.sh
since=$2 until=$3 max=$4
shift 4
window="--since=@$since --until=@$until"

echo "== journal"
set -- "$@" --
matches=""
for s in "$@"; do
  [ "$s" = -- ] && break
  unit=$(unit_name "$s")
  set -- "$@" "$unit"
  matches="$matches _SYSTEMD_UNIT=$unit + UNIT=$unit + COREDUMP_UNIT=$unit +"
done
while [ "$1" != -- ]; do shift; done
shift
# shellcheck disable=SC2086 # $window and $matches are lists of words without spaces inside
journalctl -q --no-pager -o json $window \
  --output-fields=MESSAGE,PRIORITY,SYSLOG_IDENTIFIER,_PID,_COMM,_SYSTEMD_UNIT,UNIT,MESSAGE_ID,COREDUMP_UNIT $matches "SYSLOG_IDENTIFIER=cluster-deploy-$cluster" 2>&1 |
  head -c "$max"
echo

echo "== current"
readlink "$root/current" 2>/dev/null | sed 's|.*/||' || true
[ -L "$root/current" ] || echo -

echo "== status"
[ $# -eq 0 ] || SYSTEMD_COLORS=0 systemctl status --no-pager --lines=0 -- "$@" 2>&1 | head -c 200000

echo "== kernel"
# shellcheck disable=SC2086
kernel=$(TZ=UTC journalctl -q --no-pager -k -o short-iso-precise $window 2>&1 | head -c 200000)
echo "${kernel:-(no kernel lines for the window in the journal of this node; a container has them in the host journal)}"

echo "== cores"
if command -v coredumpctl >/dev/null 2>&1; then
  # shellcheck disable=SC2046 # unit names are single words
  set -- $(for u in "$@"; do echo "COREDUMP_UNIT=$u"; done)
  # shellcheck disable=SC2086
  [ $# -eq 0 ] || coredumpctl list --no-pager -q $window "$@" 2>&1 | head -c 100000
else
  echo "(systemd-coredump is not installed: a crash leaves no dump here)"
fi
