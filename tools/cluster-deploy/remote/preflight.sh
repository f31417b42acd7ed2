#!/bin/sh
# preflight.sh <cluster> <bytes> [<release>]   (run as root; stdin: what the release's programs need)
#
# Can this node take the release? Before anything is changed on any node: the cluster's
# name is ours here (or free), systemd runs, there is room for <bytes> more in /opt, and
# every program can run here (the versions are looked up as whole strings in the
# library; no program is run). stdin has a line per ELF file of the release and per
# library it links:
#   program <release path> <ELF machine> <loader or ->   (-: static, or its loader ships with it)
#   needs <release path> <library> [<symbol version>...]
#   setting <unit> <section> <key>=<value>   (each setting of a unit to install)
# A setting is checked by asking this node's systemd (systemd-analyze verify of the units
# rebuilt from these lines, in a private temp folder): one it does not know would be
# ignored, so it is refused, naming the node's systemd version.
# Prints one line per problem on stderr and exits 6 when there is any. Changes nothing.
# With <release> (asked in the lock's round trip, before the controller knows what the node
# has): when the node runs that release already, prints "current" and checks nothing, so an
# unchanged node does not pay for the check.
# shellcheck source=prelude.sh
. ./prelude.sh
bytes=$2
if [ -n "${3:-}" ] && [ "$(readlink "$root/current" 2>/dev/null)" = "releases/$3" ]; then
  echo current
  exit 0
fi
problems=0
problem() {
  echo "$*" >&2
  problems=$((problems + 1))
}

(refuse_unless_ours "to deploy") || problems=$((problems + 1))
[ -d /run/systemd/system ] || problem "systemd is not running on this node"

where=$root
while [ ! -d "$where" ]; do where=$(dirname "$where"); done
free_kib=$(df -Pk "$where" | awk 'NR == 2 { print $4 }')
need_kib=$(((bytes + 1023) / 1024))
if [ -n "$free_kib" ] && [ "$free_kib" -lt "$need_kib" ]; then
  problem "$where has $free_kib KiB free; the release needs $need_kib KiB more"
fi

machine=$(uname -m)
case $machine in
x86_64) want=62 tag=x86-64 ;;
aarch64) want=183 tag=AArch64 ;;
armv6l | armv7l) want=40 tag=hard-float ;;
i?86) want=3 tag="" ;;
riscv64) want=243 tag=riscv64 ;;
ppc64le) want=21 tag=64bit ;;
s390x) want=22 tag=64bit ;;
*) want="" tag="" ;;
esac
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The units are rebuilt in $work itself (systemd-analyze verify ./* there); the rest are dot files.
units=$work
request=$work/.request
versions=$work/.versions
libraries=$work/.libraries
cat >"$request"
# The node's libraries, as its loader finds them: "<soname> <path>" (this architecture's).
/sbin/ldconfig -p 2>/dev/null | awk -v tag="$tag" '
  $2 ~ /^\(/ && (tag == "" || index($2, tag) > 0) { print $1, $NF }' >"$libraries"
# The units, rebuilt from their settings in one pass: each section's header where its first
# setting comes.
awk -v dir="$units" '$1 == "setting" {
  file = dir "/" $2
  if (!((file, $3) in begun)) { begun[file, $3] = 1; print "[" $3 "]" > file }
  line = $0
  sub(/^setting[ \t]+[^ \t]+[ \t]+[^ \t]+[ \t]+/, "", line)
  print line > file
}' "$request"
while read -r kind path a b; do
  case $kind in
  program)
    if [ -n "$want" ] && [ "$a" != "$want" ]; then
      problem "$path is built for another architecture (ELF machine $a) than this $machine node"
    elif [ "$b" != - ] && [ ! -e "$b" ]; then
      problem "$path cannot run on this node: it lacks the loader $b"
    fi
    ;;
  esac
done <"$request"

# Every library a program needs, in the same few processes whatever their number: the files
# of the libraries asked for versions (and the versions, into $versions), then which of the
# versions each file holds ("<file>:<version>"; the strings of an ELF file end with a NUL
# byte: -z; whole strings only: -x), then what each program lacks.
files=$(awk -v versions="$versions" '
  NR == FNR { if ($1 == "needs" && NF > 3) { want[$3] = 1; for (i = 4; i <= NF; i++) if (!($i in seen)) { seen[$i] = 1; print $i > versions } } next }
  $1 in want { print $2 }' "$request" "$libraries")
held=""
if [ -n "$files" ]; then
  # shellcheck disable=SC2086 # the files are words
  held=$(grep -aHzxF -f "$versions" $files 2>/dev/null | tr '\0' '\n')
fi
lacking=$(printf '%s\n' "$held" | awk -v libraries="$libraries" -v request="$request" '
  BEGIN { while ((getline line < libraries) > 0) { split(line, w, " "); files[w[1]] = files[w[1]] " " w[2] } }
  { n = split($0, w, ":"); if (n > 1) { file = substr($0, 1, length($0) - length(w[n]) - 1); has[file, w[n]] = 1 } }
  END {
    while ((getline line < request) > 0) {
      n = split(line, w, " ")
      if (w[1] != "needs") continue
      if (!(w[3] in files)) { print w[2] " cannot run on this node: it lacks " w[3]; continue }
      count = split(files[w[3]], f, " ")
      lacks = ""
      for (i = 4; i <= n; i++) {
        found = 0
        for (j = 1; j <= count; j++) if ((f[j], w[i]) in has) found = 1
        if (!found) lacks = lacks " " w[i]
      }
      if (lacks == "") continue
      # glibc is the node'"'"'s unless the whole closure ships; any other library can ship alone.
      hint = index(lacks, " GLIBC_") ? "BUNDLE_LIBS ALL ships glibc and its loader with the program" : "BUNDLE_LIBS ships it"
      print w[2] " cannot run on this node: it needs" lacks " (the node'"'"'s " w[3] " is older; " hint ")"
    }
  }')
[ -z "$lacking" ] || problem "$lacking"

# Units are rebuilt section by section in the order their settings came (as rendered).
set -- "$units"/*
if [ -e "$1" ]; then
  version=$(systemctl --version | awk 'NR == 1 { print $2 }')
  # Our units alone, not the units they depend on (multi-user.target's tree): a third of the
  # node's CPU for the check, where systemd knows how (250 and later; 247 refuses the option).
  only_ours=""
  case $version in [0-9][0-9][0-9]) [ "$version" -ge 250 ] && only_ours="--recursive-errors=no" ;; esac
  # shellcheck disable=SC2086 # empty or one word
  unknown=$(cd "$units" && SYSTEMD_LOG_COLOR=0 SYSTEMD_COLORS=0 systemd-analyze verify --man=no --generators=no $only_ours ./* 2>&1 |
    sed -n "s|.*/\([^/:]*\):[0-9]*: Unknown key\( name\)\{0,1\} '\([^']*\)' in section \[\{0,1\}'\{0,1\}\([A-Za-z]*\).*|\1 \4 \3|p")
  printf '%s\n' "$unknown" | while read -r unit section key; do
    [ -n "$key" ] && echo "$unit: $section setting $key is unknown to this node's systemd $version (it would be ignored): leave it out for this node" >&2
  done
  [ -z "$unknown" ] || problems=$((problems + 1))
fi

[ "$problems" -eq 0 ] || exit 6
