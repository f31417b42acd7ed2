#!/bin/sh
# list-faults.sh <cluster>   (run as root)
#
# Lists the active faults of <cluster> on this node: "now <epoch>", then per fault
# "fault <id> <kind> <until epoch> <unit>...". Changes nothing.
set -u
# shellcheck source=prelude.sh
. ./prelude.sh
dir=$run_dir
echo "now $(date +%s)"
for record in "$dir"/faults/*; do
  [ -f "$record" ] || continue
  kind=- until=0 units=""
  while read -r key value _; do
    case $key in
    kind) kind=$value ;;
    until) until=$value ;;
    start | thaw | cont | restart | affects) units="$units $value" ;;
    esac
  done <"$record"
  echo "fault ${record##*/} $kind $until$units"
done
