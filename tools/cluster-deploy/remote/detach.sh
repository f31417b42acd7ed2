#!/bin/sh
# detach.sh <unit> <script name> [arguments...]   (run as root, installed: runs <script name> of
# the folder it is installed in)
#
# Runs a node action as a transient systemd unit, <unit>-<nanoseconds>, instead of under this
# connection's sshd, so that a controller killed or cut off midway leaves it to finish (the
# switch of a node: activate.sh). The unit runs the installed copy of the script, the one beside
# this file: a switch carries arguments, not the script's text. Its output and exit status come
# back while the connection lasts (--pipe, --wait). $CLUSTER_DEPLOY_RUN, the command run's id,
# goes on to the unit for the lock (prelude.sh). Exits 1 without starting anything while an
# earlier switch still runs (a unit <unit>-*, or <unit> as older versions named it). No
# ExecStopPost: on systemd 257 with cgroup v1 its spawn can fail (ENOENT) once the main process
# has gone, and the unit then fails with result "resources".
set -u
unit=$1 name=$2
shift 2
case $0 in */*) script=${0%/*}/$name ;; *) script=$PWD/$name ;; esac # the unit starts in /
if [ ! -f "$script" ]; then
  echo "detach.sh: no $script installed" >&2
  exit 2
fi
if [ -n "$(systemctl list-units --plain --no-legend --state=active,activating,deactivating \
  "$unit.service" "$unit-*.service" 2>/dev/null)" ]; then
  echo "an earlier switch ($unit) still runs on this node: nothing started" >&2
  exit 1
fi
# A name of its own each time: systemd keeps an ended transient unit loaded for a while (on the
# local cluster's busy nodes more than 10 s after it ended, even after a stop), and a fixed name
# then had each switch wait up to 5 s for the last one's to go.
exec systemd-run --quiet --wait --pipe --collect --unit="$unit-$(date +%s%N)" --description="cluster-deploy: $name" \
  --setenv=CLUSTER_DEPLOY_RUN="${CLUSTER_DEPLOY_RUN:-}" /bin/sh "$script" "$@"
