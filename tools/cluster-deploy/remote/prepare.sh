#!/bin/sh
# prepare.sh <cluster> <release> [<path in current> <path in release> <sha256>]...   (run as root)
#
# Creates the staging folder of <release> (removing any other, and any release half
# pruned, left by an interrupted deploy) and puts there the files the node already has.
# Prints "partial <sha256> <bytes>" for each upload an interrupted deploy left unfinished
# (releases/.partial, see upload.sh): the controller sends only the rest.
# A file is reused only if its content is still what the manifest says; otherwise
# "resend <path>" is printed and the controller uploads it. Programs and the libraries
# shipped with them are hard links (large, never written in place); everything else is copied. Staging is root's alone
# (0700) until seal.sh.
set -e
# shellcheck source=prelude.sh
. ./prelude.sh
staging=$root/releases/.staging-$2
shift 2
refuse_unless_ours "to deploy"
make_ours
mkdir -p "$root/releases"
chmod 0755 "$root/releases"
rm -rf "$root"/releases/.staging-* "$root"/releases/.prune-*
umask 077
mkdir -p "$staging"
# The current release's files are as activate.sh recorded them (file_stats, as drift.sh):
# then their content is what its MANIFEST says and none is read again; else each is hashed.
known="" made=""
if [ -f "$root/current/.stat" ] && (cd "$root/current" && file_stats | cmp -s - .stat); then
  known=$(cat "$root/current/MANIFEST")
fi
while [ $# -ge 3 ]; do
  from=$root/current/$1 to=$staging/$2
  case "/$made/" in
  *"/${to%/*}/"*) ;;
  *) mkdir -p "${to%/*}" && made="$made/${to%/*}" ;;
  esac
  case "
$known
" in
  *"
$3  $1
"*) same=yes ;;
  *) same=no; [ -f "$from" ] && [ "$(sha256_of "$from")" = "$3" ] && same=yes ;;
  esac
  if [ $same = yes ]; then
    case $2 in
    bin/* | lib/*) ln "$from" "$to" 2>/dev/null || cp -p "$from" "$to" ;;
    *) cp -p "$from" "$to" ;;
    esac
  else
    echo "resend $2"
  fi
  shift 3
done
for part in "$root"/releases/.partial/*; do
  if [ -f "$part" ]; then echo "partial ${part##*/} $(stat -c %s "$part")"; fi
done
