#!/bin/sh
# journal.sh <cluster> <lines> <since> follow|once <service>...   (run as root)
#
# Prints the services' journal: the last <lines> lines (since <since>, a journalctl time,
# when not empty), in UTC so that lines from nodes in other time zones merge in order;
# with "follow", keeps printing new lines. Changes nothing. -q: systemd 247 (bullseye) prints a
# "-- Journal begins at ..." line first without it.
# shellcheck source=prelude.sh
. ./prelude.sh
lines=$2 since=$3 follow=$4
shift 4
set -- "$@" --
for s in "$@"; do
  [ "$s" = -- ] && break
  set -- "$@" -u "$(unit_name "$s")"
done
while [ "$1" != -- ]; do shift; done
shift
[ -z "$since" ] || set -- "$@" --since "$since"
[ "$follow" != follow ] || set -- "$@" -f
TZ=UTC exec journalctl -q --no-pager -o short-iso-precise -n "$lines" "$@"
