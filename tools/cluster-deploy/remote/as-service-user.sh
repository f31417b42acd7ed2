#!/bin/sh
# as-service-user.sh <cluster> <shell command> [<seconds>]   (run as root)
#
# Runs a command of the plan (HEALTH exec probe, QUORUM check, LEADER query) as the
# cluster's service user, never as root; with <seconds>, killed after that long (exit 124), as
# in the batch that takes the lock, which must not wait for a probe that hangs.
# shellcheck source=prelude.sh
. ./prelude.sh
# setpriv (util-linux, as runuser) switches user and groups without a PAM session: a third of
# runuser's CPU time. The environment is what runuser -u gives: ours, with the account's
# HOME, SHELL, USER and LOGNAME (make_ours creates it with these).
HOME=/nonexistent SHELL=/usr/sbin/nologin USER=$cluster LOGNAME=$cluster
export HOME SHELL USER LOGNAME
if [ -n "${3:-}" ]; then
  exec timeout -k 1 "$3" setpriv --reuid="$cluster" --regid="$cluster" --init-groups -- sh -c "$2"
fi
exec setpriv --reuid="$cluster" --regid="$cluster" --init-groups -- sh -c "$2"
