#!/bin/sh
# seal.sh <cluster> <release>   (run as root; stdin: the release's MANIFEST)
#
# Checks every staged file against the manifest (exit 3 naming the first bad ones) and
# that this node can run every program (exit 6 saying why not), sets the final owners and
# modes (configs may hold secrets: readable by root and the service user's group only) and
# moves the staging folder into place as releases/<release>.
set -e
# shellcheck source=prelude.sh
. ./prelude.sh
staging=$root/releases/.staging-$2
cat >"$staging/MANIFEST"
cd "$staging"
if ! out=$(sha256sum --quiet --strict -c MANIFEST 2>&1); then
  echo "$out" | head -n 3 >&2
  exit 3
fi
# A program this node cannot run (another architecture, a shared library or a glibc
# version it lacks) stops here, before anything switches to it (exit 6).
machine=$(uname -m)
case $machine in
x86_64) want=62 ;;
aarch64) want=183 ;;
armv6l | armv7l) want=40 ;;
i?86) want=3 ;;
riscv64) want=243 ;;
ppc64le) want=21 ;;
s390x) want=22 ;;
*) want="" ;;
esac
for p in bin/*; do
  if [ ! -f "$p" ] || [ "$(head -c 4 "$p" | od -An -c | tr -d ' ')" != 177ELF ]; then
    continue # scripts are not checked
  fi
  elf_machine=$(od -An -tu2 -j18 -N2 "$p" | tr -d ' ')
  if [ -n "$want" ] && [ "$elf_machine" != "$want" ]; then
    echo "$p is built for another architecture (ELF machine $elf_machine) than this $machine node" >&2
    exit 6
  fi
  linked=$(ldd "$p" 2>&1) || true
  missing=$(printf '%s\n' "$linked" | sed -n 's/^[[:space:]]*\([^ ]*\) => not found$/\1/p' | sort -u | tr '\n' ' ')
  if [ -n "$missing" ]; then
    echo "$p cannot run on this node: it lacks ${missing% }" >&2
    exit 6
  fi
  versions=$(printf '%s\n' "$linked" | sed -n "s/.*version \`\([^']*\)' not found.*/\1/p" | sort -u | tr '\n' ' ')
  if [ -n "$versions" ]; then
    echo "$p cannot run on this node: it needs ${versions% } (the node's libraries are older)" >&2
    exit 6
  fi
done
chown -R root:root .
if [ -d etc ]; then
  chgrp -R "$cluster" etc
  chmod -R u=rwX,g=rX,o= etc
fi
for d in bin units; do
  if [ -d "$d" ]; then chmod -R go-w,a+rX "$d"; fi
done
if [ -d bin ]; then chmod 0755 bin/*; fi
chmod 0755 .
chmod 0644 MANIFEST
cd /
mv -T "$staging" "$root/releases/$2"
