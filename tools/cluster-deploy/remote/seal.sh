#!/bin/sh
# seal.sh <cluster> <release>   (run as root; stdin: the release's MANIFEST)
#
# Checks that every file of the manifest is staged: each one's content was checked when it
# was put here (prepare.sh reuses a file only if its content is what the manifest says,
# upload.sh and relay-adopt.sh keep a file only if its sha256 is), so no file is read twice.
# Exit 3 names the first missing ones; that the node can run the programs, preflight.sh
# checked before anything was sent. Then sets the final owners and modes (configs may hold
# secrets: readable by root and the service user's group only) and moves the staging folder
# into place as releases/<release>.
set -e
# shellcheck source=prelude.sh
. ./prelude.sh
staging=$root/releases/.staging-$2
cat >"$staging/MANIFEST"
cd "$staging"
missing=$(while read -r _ path; do if [ ! -f "$path" ]; then echo "$path: missing"; fi; done <MANIFEST)
if [ -n "$missing" ]; then
  echo "$missing" | head -n 3 >&2
  exit 3
fi
chown -R root:root .
if [ -d etc ]; then
  chgrp -R "$cluster" etc
  chmod -R u=rwX,g=rX,o= etc
fi
for d in bin lib units; do
  if [ -d "$d" ]; then chmod -R go-w,a+rX "$d"; fi
done
if [ -d bin ]; then chmod 0755 bin/*; fi
# Shared libraries executable, as some distributions install them: the loader that ships
# with a program (BUNDLE_LIBS ALL) is its unit's ExecStart.
if [ -d lib ]; then chmod -R a+x lib; fi
chmod 0644 MANIFEST
cd /
# The folder opens (0755) only once it is a release: staging stays root's alone to the end.
mv -T "$staging" "$root/releases/$2"
chmod 0755 "$root/releases/$2"
rm -rf "$root/releases/.partial" # every file is here: what an interrupted upload left is not needed
