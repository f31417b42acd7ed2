#!/bin/sh
# unlock.sh <cluster> <run>   (run as root)
#
# Gives the node back: removes the lock record if <run> holds it (never another run's).
set -eu
# shellcheck source=prelude.sh
. ./prelude.sh
[ -d "$run_dir" ] || exit 0
exec 8>"$run_dir/.lock-guard"
flock -w 10 8 || exit 5
if [ -f "$lock_record" ] && [ "$(sed -n 's/^run //p' "$lock_record")" = "$2" ]; then
  rm -f "$lock_record"
fi
