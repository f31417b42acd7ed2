#!/bin/sh
# as-service-user.sh <cluster> <shell command>   (run as root)
#
# Runs a command of the plan (HEALTH exec probe, QUORUM check, LEADER query) as the
# cluster's service user, never as root.
# shellcheck source=prelude.sh
. ./prelude.sh
# setpriv (util-linux, as runuser) switches user and groups without a PAM session: a third of
# runuser's CPU time. The environment is what runuser -u gives: ours, with the account's
# HOME, SHELL, USER and LOGNAME (make_ours creates it with these).
HOME=/nonexistent SHELL=/usr/sbin/nologin USER=$cluster LOGNAME=$cluster
export HOME SHELL USER LOGNAME
exec setpriv --reuid="$cluster" --regid="$cluster" --init-groups -- sh -c "$2"
