#!/bin/sh
# detach.sh <unit> <script name> <script text> <run> [arguments...]   (run as root)
#
# Runs a node action as a transient systemd unit, <unit>-<nanoseconds>, instead of under this
# connection's sshd, so that a controller killed or cut off midway leaves it to finish (the
# switch of a node: activate.sh). The script is written to a folder of root's in /run; its
# first line, which the script shares with its own "#!" line so that line numbers stay, removes
# the folder (the shell reads on from the file it opened). Its output and exit status come back
# while the connection lasts (--pipe, --wait). <run> is the command run's id, for the lock
# (prelude.sh). Exits 1 without starting anything while an earlier switch still runs (a unit
# <unit>-*, or <unit> as older versions named it). No ExecStopPost: on systemd 257 with cgroup
# v1 its spawn can fail (ENOENT) once the main process has gone, and the unit then fails with
# result "resources".
set -u
unit=$1 name=$2 text=$3 run=$4
shift 4
if [ -n "$(systemctl list-units --plain --no-legend --state=active,activating,deactivating \
  "$unit.service" "$unit-*.service" 2>/dev/null)" ]; then
  echo "an earlier switch ($unit) still runs on this node: nothing started" >&2
  exit 1
fi
# A name of its own each time: systemd keeps an ended transient unit loaded for a while (on the
# local cluster's busy nodes more than 10 s after it ended, even after a stop), and a fixed name
# then had each switch wait up to 5 s for the last one's to go.
unit=$unit-$(date +%s%N)
dir=$(mktemp -d "/run/$unit.XXXXXX") || exit 1
printf 'rm -rf %s # %s' "$dir" "$text" >"$dir/$name"
rc=0
systemd-run --quiet --wait --pipe --collect --unit="$unit" --description="cluster-deploy: $name" \
  --setenv=CLUSTER_DEPLOY_RUN="$run" /bin/sh "$dir/$name" "$@" || rc=$?
rm -rf "$dir" # when the unit never started
exit $rc
