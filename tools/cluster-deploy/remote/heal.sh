#!/bin/sh
# heal.sh <cluster> [<id> | <kind>]   (run as root)
#
# Undoes the faults recorded in /run/cluster-deploy/<cluster>/faults: all of them with
# their timers, or only the one with this id (what a fault's own timer runs) or of this
# kind (`fault resume` heals the pauses). Healing everything also deletes nft tables of
# this cluster's faults that lost their record. Prints "healed <id> <kind>" per fault.
# Only what carries our mark is touched; running it again changes nothing.
set -u
# shellcheck source=prelude.sh
. ./prelude.sh
only=${2:-}
dir=$run_dir
status=0
if [ -d "$dir" ] && [ -z "${CLUSTER_DEPLOY_LOCK_HELD:-}" ]; then
  exec 9>"$dir/.lock"
  if ! flock -w 60 9; then
    echo "$dir/.lock is held for over 60 s: not healing now" >&2
    exit 1
  fi
fi

for record in "$dir"/faults/*; do
  [ -f "$record" ] || continue
  id=${record##*/}
  kind=$(sed -n 's/^kind //p' "$record")
  [ -z "$only" ] || [ "$id" = "$only" ] || [ "$kind" = "$only" ] || continue
  if [ "$id" != "$only" ]; then
    systemctl stop "$(heal_unit "$id").timer" 2>/dev/null || true
  fi
  while read -r key value pids; do
    # shellcheck disable=SC2086 # the rest of a record line is words
    set -- $pids
    case $key in
    table) nft delete table inet "$value" 2>/dev/null || true ;;
    start)
      systemctl reset-failed -- "$value" 2>/dev/null
      systemctl start --no-block -- "$value" || status=1
      ;;
    thaw) systemctl thaw -- "$value" || status=1 ;;
    dropin)
      # Ours only: a runtime drop-in named after our fault (clock).
      case $value in /run/systemd/system/*.d/"$(table_prefix)$id".conf) rm -f -- "$value" ;; esac
      systemctl daemon-reload
      ;;
    restart) systemctl restart --no-block -- "$value" || status=1 ;;
    fill)
      # Ours only: the filler named after this fault (disk-full).
      case ${value##*/} in .cluster-deploy-fill-"$id"-*) rm -f -- "$value" ;; esac
      ;;
    unflip | untruncate)
      # Only while the file is as the fault left it: what the service wrote since stays.
      if [ "$(sha256_of "$value")" != "$3" ]; then
        say_in_journal "fault $id: $value changed since it was corrupted: left as it is"
      elif [ "$key" = unflip ]; then
        flip_byte "$value" "$1" "$2"
      elif [ "$(stat -c %s "$value")" = "$1" ]; then
        cat -- "$2" >>"$value"
      fi
      [ "$key" = unflip ] || rm -f -- "$record.tail"
      ;;
    cont)
      kill -s CONT "$@" 2>/dev/null || true
      ;;
    esac
  done <"$record"
  rm -f "$record"
  say_in_journal "healed $id $kind"
  echo "healed $id $kind"
done

if [ -z "$only" ] && command -v nft >/dev/null 2>&1; then
  prefix=$(table_prefix)
  nft list tables inet 2>/dev/null | while read -r _ _ table; do
    # Ours: the prefix, then a fault id "f<digits>" (cluster "a" must not match cluster "a-2").
    case ${table#"$prefix"} in
    "$table" | f | f*[!0-9]*) continue ;;
    f*) nft delete table inet "$table" && echo "healed - partition (table $table)" ;;
    esac
  done
fi
exit $status
