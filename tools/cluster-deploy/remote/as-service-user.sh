#!/bin/sh
# as-service-user.sh <cluster> <shell command> [<seconds>|-] [<milliseconds>]   (run as root)
#
# Runs a command of the plan (HEALTH exec probe, QUORUM check, LEADER query) as the
# cluster's service user, never as root; with <seconds>, killed after that long (exit 124), as
# in the batch that takes the lock, which must not wait for a probe that hangs. With
# <milliseconds>, runs it again until it passes or that long has passed (after 0.1 s, then
# 0.2, 0.4, 0.8 and every second: a service that just started is often ready within a
# fraction of a second), and exits with its last status: a wait for health waits on the node,
# where a look from the controller costs a round trip, a sudo and a systemctl (health.cpp).
# shellcheck source=prelude.sh
. ./prelude.sh
# setpriv (util-linux, as runuser) switches user and groups without a PAM session: a third of
# runuser's CPU time. The environment is what runuser -u gives: ours, with the account's
# HOME, SHELL, USER and LOGNAME (make_ours creates it with these).
HOME=/nonexistent SHELL=/usr/sbin/nologin USER=$cluster LOGNAME=$cluster
export HOME SHELL USER LOGNAME
limit=""
[ "${3:--}" = - ] || limit="timeout -k 1 $3"
if [ -z "${4:-}" ]; then
  exec $limit setpriv --reuid="$cluster" --regid="$cluster" --init-groups -- sh -c "$2"
fi
centiseconds() { # since boot, from /proc/uptime (two decimals), with the shell's own read
  read -r up _ </proc/uptime
  echo $((${up%.*} * 100 + 1${up#*.} - 100)) # 1...: no octal from a leading 0
}
stop_at=$(($(centiseconds) + $4 / 10)) nap=0.1
while :; do
  rc=0
  $limit setpriv --reuid="$cluster" --regid="$cluster" --init-groups -- sh -c "$2" || rc=$?
  [ $rc != 0 ] && [ "$(centiseconds)" -lt $stop_at ] || exit $rc
  sleep $nap
  case $nap in 0.1) nap=0.2 ;; 0.2) nap=0.4 ;; 0.4) nap=0.8 ;; *) nap=1 ;; esac
done
