#!/bin/sh
# unlock.sh <cluster> <run>   (run as root)
#
# Gives the node back: removes the lock record if <run> holds it (never another run's). When
# the node holds nothing of the cluster any more (clean ran), the installed node scripts go
# too (node_ops.cpp installs them again on a later call of any run).
set -eu
# shellcheck source=prelude.sh
. ./prelude.sh
[ -d "$run_dir" ] || exit 0
exec 8>"$run_dir/.lock-guard"
flock -w 10 8 || exit 5
holder=""
if [ -f "$lock_record" ]; then
  while read -r key value; do [ "$key" != run ] || holder=$value; done <"$lock_record"
fi
if [ "$holder" = "$2" ]; then
  rm -f "$lock_record"
fi
if [ ! -e "$root" ]; then rm -rf /run/cluster-deploy/scripts; fi
