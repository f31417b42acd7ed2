#!/bin/sh
# releases.sh <cluster> [<release>]   (run as root)
#
# Picks the release a rollback goes to: <release>, or else the release that was current
# before the current one. deploy.log ("<time> <old> -> <new> <reason> run=<id>" per switch)
# is replayed as a stack: a deploy pushes its release; a switch back after a failed batch
# ("back") or a rollback pops. Prints "run <id>" (the command run that made the current
# release current: a rollback undoes only the newest run's nodes), then "target <id>" and
# that release's manifest as "file <sha256>  <path>" lines, or "none <why>" when there is
# nothing to go back to. Changes nothing.
set -u
# shellcheck source=prelude.sh
. ./prelude.sh
wanted=${2:-}
current=$(readlink "$root/current" 2>/dev/null || true)
current=${current##*/}
if [ -z "$current" ]; then
  echo "none nothing is deployed on this node"
  exit 0
fi
target=$wanted
if [ -f "$root/deploy.log" ]; then
  history=$(awk -v current="$current" '
    {
      for (i = 1; i <= NF; i++) if ($i == "->") { old = (i > 2 ? $(i - 1) : ""); new = $(i + 1); reason = $(i + 2); run = $(i + 3) }
      sub(/^run=/, "", run)
      if ((reason == "back" || reason == "rollback") && top > 0 && stack[top] == old) top--
      if (top == 0 || stack[top] != new) { stack[++top] = new; runs[top] = run }
    }
    END {
      if (top > 0 && stack[top] == current) print "run " runs[top]
      if (top > 1 && stack[top] == current) print "previous " stack[top - 1]
    }' "$root/deploy.log")
  echo "$history" | grep '^run ' || true
  [ -n "$target" ] || target=$(echo "$history" | sed -n 's/^previous //p')
fi
if [ -z "$target" ]; then
  echo "none nothing earlier than release $current to go back to"
  exit 0
fi
if [ ! -f "$root/releases/$target/MANIFEST" ]; then
  echo "none release $target is no longer on this node (only the last releases are kept)"
  exit 0
fi
echo "target $target"
sed 's/^/file /' "$root/releases/$target/MANIFEST"
