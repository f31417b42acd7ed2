#!/bin/sh
# relay-receive.sh <inbox> <outbox>   (the forced command of a deploy's relay key: runs as the
# relay user when another node passes a file on or reads one; $SSH_ORIGINAL_COMMAND says which)
#
# "<sha256>": takes the file on stdin into <inbox>/<sha256>, whole or not at all. Nothing
# counts it yet: relay-adopt.sh, run as root for the controller, checks its hash first.
# "stream <sha256> <bytes> [<sha256> <bytes>]...": writes each <outbox>/<sha256> to stdout in
# turn while this node's root takes it (relay-take.sh, which names its process in
# <sha256>.pid), from its first byte on, until <bytes> are out or the taking process has ended
# (then it stops: the files after a short one are not sent); waits up to 60 s for the taking
# of each to begin, and gives up after 60 s without a new byte.
# The reader checks the hash of what it got; nothing here is trusted.
# relay-open.sh installs this file beside the key; it does not source the prelude.
set -eu
fail() {
  echo "relay-receive.sh: $1" >&2
  exit 2
}
check_sha() {
  case $1 in
  *[!0-9a-f]* | "") fail "expected a sha256, got '$1'" ;;
  esac
  [ "${#1}" -eq 64 ] || fail "expected a sha256 of 64 hex digits"
}
set -f # split on purpose, never expanded: the words are checked one by one below
# shellcheck disable=SC2086
set -- "$1" "$2" ${SSH_ORIGINAL_COMMAND:-}
inbox=$1 outbox=$2
shift 2
if [ "${1:-}" != stream ]; then
  [ $# -eq 1 ] || fail "expected a sha256"
  check_sha "$1"
  umask 077
  cat >"$inbox/$1.part"
  mv -f "$inbox/$1.part" "$inbox/$1"
  exit 0
fi
shift
if [ $# -lt 2 ] || [ $(($# % 2)) -ne 0 ]; then
  fail "expected: stream <sha256> <bytes> [<sha256> <bytes>]..."
fi
files=
while [ $# -ge 2 ]; do
  check_sha "$1"
  case $2 in
  *[!0-9]* | "") fail "expected a byte count, got '$2'" ;;
  esac
  files="$files $outbox/$1 $2"
  shift 2
done
# Reads whatever has arrived, up to 1 MiB at a time, and looks again every 50 ms: large writes,
# so ssh sends full packets (following each small write of the taker costs every hop far more).
# perl: Debian's perl-base is essential, on every node.
# shellcheck disable=SC2086 # words on purpose: the outbox path and checked digits
exec perl -e '
while (@ARGV) {
  my ($file, $bytes) = splice(@ARGV, 0, 2);
  my $waited = 0;
  until (-f "$file.pid" && -f $file) {
    die "relay-receive.sh: this node did not begin to take $file within 60 s\n" if ++$waited > 600;
    select(undef, undef, undef, 0.1);
  }
  open(my $p, "<", "$file.pid") or die "relay-receive.sh: $file.pid: $!\n";
  chomp(my $pid = <$p> // "");
  open(my $in, "<", $file) or die "relay-receive.sh: $file: $!\n";
  my ($sent, $idle, $ended) = (0, 0, 0);
  while ($sent < $bytes) {
    my $n = sysread($in, my $buf, 1 << 20);
    defined $n or die "relay-receive.sh: reading $file: $!\n";
    if ($n == 0) {
      last if $ended; # the taker had ended before this last look: nothing more comes
      $ended = !(kill(0, $pid) || $!{EPERM});
      next if $ended;
      die "relay-receive.sh: nothing new in $file for 60 s\n" if ++$idle > 1200;
      select(undef, undef, undef, 0.05);
      next;
    }
    $idle = 0;
    $n = $bytes - $sent if $n > $bytes - $sent;
    for (my $off = 0; $off < $n;) {
      my $w = syswrite(STDOUT, $buf, $n - $off, $off);
      defined $w or exit 1; # the reader went away
      $off += $w;
    }
    $sent += $n;
  }
  exit 1 if $sent < $bytes; # the taker ended short: what follows would not come either
}' $files
