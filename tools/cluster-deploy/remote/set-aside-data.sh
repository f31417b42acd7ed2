#!/bin/sh
# set-aside-data.sh <cluster> <service>   (run as root)
#
# Before a node joins its service's group: data left in the service's data folder by an
# earlier membership (the node was a member, left, and comes back) would make it start as
# the member it was, which the group has removed. Moves the folder aside, next to it, as
# <folder>.left-<UTC time>, and prints that path; prints nothing when there is nothing to
# move. Nothing is deleted: `clean --purge-data` removes it with the rest. Refused (exit 5)
# while the service runs here.
set -e
# shellcheck source=prelude.sh
. ./prelude.sh
folder=$(data_folder "$2")
if [ ! -d "$folder" ] || [ -L "$folder" ] || [ -z "$(ls -A "$folder")" ]; then
  exit 0
fi
if systemctl is-active -q "$(unit_name "$2")"; then
  echo "$2 runs here although its group does not count this node a member: stop it first" >&2
  exit 5
fi
aside=$folder.left-$(date -u +%Y%m%dT%H%M%SZ)
mv "$folder" "$aside"
say_in_journal "$2: data of an earlier membership moved aside to $aside"
echo "$aside"
