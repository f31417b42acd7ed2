#!/bin/sh
# preflight.sh <cluster> <bytes>   (run as root; stdin: what the release's programs need)
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
# shellcheck source=prelude.sh
. ./prelude.sh
bytes=$2
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
# The node's libraries, as its loader finds them: "<soname> <path>" (this architecture's).
libraries=$(/sbin/ldconfig -p 2>/dev/null | awk -v tag="$tag" '
  $2 ~ /^\(/ && (tag == "" || index($2, tag) > 0) { print $1, $NF }')

units=$(mktemp -d)
versions=$(mktemp)
request=$(mktemp)
trap 'rm -rf "$units" "$versions" "$request"' EXIT
cat >"$request"
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
  needs)
    files=$(printf '%s\n' "$libraries" | awk -v lib="$a" '$1 == lib { print $2 }')
    if [ -z "$files" ]; then
      problem "$path cannot run on this node: it lacks $a"
      continue
    fi
    lacking=""
    if [ -n "$b" ]; then
      # Every version the library's files hold, in one read of each (the strings of an ELF file
      # end with a NUL byte: -z; whole strings only: -x).
      # shellcheck disable=SC2086 # the versions are words
      printf '%s\n' $b >"$versions"
      # shellcheck disable=SC2086 # the files are words
      held=$(grep -ahzxF -f "$versions" $files 2>/dev/null | tr '\0' '\n')
      for version in $b; do
        case "
$held
" in
        *"
$version
"*) ;;
        *) lacking="$lacking $version" ;;
        esac
      done
    fi
    # glibc is the node's unless the whole closure ships; any other library can ship alone.
    hint="BUNDLE_LIBS ships it"
    case $lacking in *" GLIBC_"*) hint="BUNDLE_LIBS ALL ships glibc and its loader with the program" ;; esac
    if [ -n "$lacking" ]; then
      problem "$path cannot run on this node: it needs${lacking} (the node's $a is older; $hint)"
    fi
    ;;
  esac
done <"$request"

# Units are rebuilt section by section in the order their settings came (as rendered).
if [ -n "$(ls "$units")" ]; then
  version=$(systemctl --version | awk 'NR == 1 { print $2 }')
  unknown=$(cd "$units" && SYSTEMD_LOG_COLOR=0 SYSTEMD_COLORS=0 systemd-analyze verify ./* 2>&1 |
    sed -n "s|.*/\([^/:]*\):[0-9]*: Unknown key\( name\)\{0,1\} '\([^']*\)' in section \[\{0,1\}'\{0,1\}\([A-Za-z]*\).*|\1 \4 \3|p")
  printf '%s\n' "$unknown" | while read -r unit section key; do
    [ -n "$key" ] && echo "$unit: $section setting $key is unknown to this node's systemd $version (it would be ignored): leave it out for this node" >&2
  done
  [ -z "$unknown" ] || problems=$((problems + 1))
fi

[ "$problems" -eq 0 ] || exit 6
