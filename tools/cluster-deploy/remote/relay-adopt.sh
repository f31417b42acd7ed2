#!/bin/sh
# relay-adopt.sh <cluster> <release> [<path> <sha256>]...   (run as root)
#
# Takes the files other nodes passed on to this one (relay-receive.sh) out of the relay
# inbox into the staging folder of <release>: each counts only if its content has its
# sha256. Each is copied into a new file of root's first and checked there: a process of the
# relay account that still holds the inbox file open for writing (a mv keeps the inode) cannot
# change what was checked. Prints "resend <path>" for each that did not arrive or arrived
# damaged: the controller sends those itself.
set -e
# shellcheck source=prelude.sh
. ./prelude.sh
staging=$root/releases/.staging-$2
shift 2
while [ $# -ge 2 ]; do
  got=$relay_inbox/$2 file=$staging/$1
  if [ ! -f "$got" ]; then
    echo "resend $1"
    shift 2
    continue
  fi
  mkdir -p "$(dirname "$file")"
  rm -f "$file.part"
  (umask 077 && cp "$got" "$file.part")
  rm -f "$got"
  if [ "$(sha256_of "$file.part")" = "$2" ]; then
    mv -f "$file.part" "$file"
  else
    rm -f "$file.part"
    echo "resend $1"
  fi
  shift 2
done
