#!/bin/sh
# detach.sh <unit> <script name> <script text> <run> [arguments...]   (run as root)
#
# Runs a node action as the transient systemd unit <unit> instead of under this connection's
# sshd, so that a controller killed or cut off midway leaves it to finish (the switch of a
# node: activate.sh). The script is written to a folder of root's in /run; its first line,
# which the script shares with its own "#!" line so that line numbers stay, removes the folder
# (the shell reads on from the file it opened). Its output and exit status come back while
# the connection lasts (--pipe, --wait). <run> is the command run's id, for the lock
# (prelude.sh). Exits 1 without starting anything while an earlier switch still runs (under
# <unit>, or under a name of its own: below). No ExecStopPost: on systemd 257 with cgroup v1 its
# spawn can fail (ENOENT) once the main process has gone, and the unit then fails with result
# "resources".
set -u
unit=$1 name=$2 text=$3 run=$4
shift 4
if [ -n "$(systemctl list-units --plain --no-legend --state=active,activating,deactivating \
  "$unit.service" "$unit-*.service" 2>/dev/null)" ]; then
  echo "an earlier switch ($unit) still runs on this node: nothing started" >&2
  exit 1
fi
# An earlier switch's unit that ended but that systemd has not collected yet (seen on the local
# cluster's nodes) would refuse the name: it is let go first (a stop of the ended unit is what
# makes systemd collect it: without it, it stayed loaded for more than 5 s on most nodes of 32).
# systemd unloads it on its own time: on a busy node it was once still loaded 10 s later, so
# after 5 s the switch takes a name of its own, which the check above sees as well.
systemctl stop "$unit" 2>/dev/null
systemctl reset-failed "$unit" 2>/dev/null
tries=0
while [ "$(systemctl show -p LoadState --value "$unit" 2>/dev/null)" = loaded ] && [ $tries -lt 50 ]; do
  sleep 0.1
  tries=$((tries + 1))
done
[ $tries -lt 50 ] || unit=$unit-$(date +%s%N)
dir=$(mktemp -d "/run/$unit.XXXXXX") || exit 1
printf 'rm -rf %s # %s' "$dir" "$text" >"$dir/$name"
rc=0
systemd-run --quiet --wait --pipe --collect --unit="$unit" --description="cluster-deploy: $name" \
  --setenv=CLUSTER_DEPLOY_RUN="$run" /bin/sh "$dir/$name" "$@" || rc=$?
rm -rf "$dir" # when the unit never started
exit $rc
