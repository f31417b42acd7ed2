#!/bin/sh
# relay-take.sh <cluster> <release> <user@address>|- <port>|- <path> <sha256> <bytes> [<path> <sha256> <bytes>]...
#   (run as root; stdin: with "-", the files' contents from the controller, one after the
#   other; with a node, that node's known_hosts lines)
#
# Takes files of <release> into its staging folder, each whole and with its sha256 or not at
# all, while the nodes below this one in the deploy's fan-out read each as it arrives: a
# stream, not store and forward. From the controller the files come on stdin; from the node
# given, which is taking the same files in the same order itself, they come one after the
# other over one connection (relay-receive.sh "stream" there). Root hashes what arrived (from
# the page cache); each part is root's, readable by the relay account only through the outbox
# (seal.sh gives every file its final owner and mode).
# Only programs and libraries pass on, never configs. How it connects: relay_ssh in
# prelude.sh; a reader of this node's outbox waits for the taking of each file to begin at
# most 60 s.
# Exits 3 when a file arrived short or damaged (its part, and those of the files after it, are
# removed; the files before it stay staged).
set -e
# shellcheck source=prelude.sh
. ./prelude.sh
if [ ! -d "$relay_outbox" ]; then
  echo "this node has no relay outbox (relay-open.sh did not run)" >&2
  exit 5
fi
release=$2 from=$3 port=$4
shift 4
if [ $# -lt 3 ] || [ $(($# % 3)) -ne 0 ]; then
  echo "relay-take.sh: expected <path> <sha256> <bytes> triples" >&2
  exit 2
fi
umask 077
mkdir -p "$root/releases/.staging-$release" "$root/releases/.partial"
for_each_file() { # for_each_file <function> <path> <sha256> <bytes> ...
  fn=$1
  shift
  while [ $# -ge 3 ]; do
    "$fn" "$1" "$2" "$3"
    shift 3
  done
}
open_part() {
  part=$root/releases/.partial/$2
  rm -f "$part" "$relay_outbox/$2" "$relay_outbox/$2.pid"
  : >"$part"
  chgrp "$relay_user" "$part"
  chmod 0640 "$part"
  ln "$part" "$relay_outbox/$2"
  echo $$ >"$relay_outbox/$2.pid.new"
  chgrp "$relay_user" "$relay_outbox/$2.pid.new"
  chmod 0640 "$relay_outbox/$2.pid.new"
  mv -f "$relay_outbox/$2.pid.new" "$relay_outbox/$2.pid"
}
add_stream() { streams="$streams $2 $3"; }
part_and_bytes() { printf '%s %s\n' "$root/releases/.partial/$2" "$3"; }
# Every part exists, empty, before the first byte: a reader of the outbox that comes early
# waits for bytes, not for the file.
for_each_file open_part "$@"
# Each file's bytes from stdin into its part (perl: Debian's perl-base is essential). What
# arrived is checked below. The pipe holds 1 MiB (F_SETPIPE_SZ, 1031): with the default 64 KiB,
# ssh wakes up for every 64 KiB and spends 4 times the CPU it needs writing into a file.
split_into_parts() {
  # shellcheck disable=SC2046 # words on purpose: our own paths and numbers
  perl -e '
    fcntl(STDIN, 1031, 1 << 20);
    while (@ARGV) {
      my ($part, $bytes) = splice(@ARGV, 0, 2);
      open(my $out, ">>", $part) or die "relay-take.sh: $part: $!\n";
      while ($bytes > 0) {
        my $n = sysread(STDIN, my $buf, $bytes < (1 << 20) ? $bytes : 1 << 20);
        exit 0 unless $n; # the stream ended early: the check below says what is short
        for (my $off = 0; $off < $n;) {
          my $w = syswrite($out, $buf, $n - $off, $off) // die "relay-take.sh: writing $part: $!\n";
          $off += $w;
        }
        $bytes -= $n;
      }
      close($out);
    }' $(for_each_file part_and_bytes "$@")
}
if [ "$from" = - ]; then
  split_into_parts "$@" || true
else
  hosts=$(mktemp "$relay_run/known_hosts.XXXXXX")
  trap 'rm -f "$hosts"' EXIT
  cat >"$hosts"
  streams=
  for_each_file add_stream "$@"
  # One connection for all the files.
  # shellcheck disable=SC2086 # words on purpose: hex digests and numbers
  relay_ssh "$hosts" "$port" "$from" "stream$streams" | split_into_parts "$@" || true
fi
failed=
check() { # check <path> <sha256> <bytes>
  part=$root/releases/.partial/$2
  if [ -n "$failed" ]; then
    rm -f "$part"
    return
  fi
  size=$(stat -c %s "$part")
  if [ "$size" != "$3" ] || [ "$(sha256_of "$part")" != "$2" ]; then
    rm -f "$part"
    failed="$1: $size of $3 bytes arrived$([ "$from" = - ] || echo " from $from")$([ "$size" != "$3" ] || echo ", damaged")"
    return
  fi
  mkdir -p "$(dirname "$root/releases/.staging-$release/$1")"
  mv -f "$part" "$root/releases/.staging-$release/$1"
}
for_each_file check "$@"
if [ -n "$failed" ]; then
  echo "$failed" >&2
  exit 3
fi
