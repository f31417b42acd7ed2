#!/bin/sh
# as-service-user.sh <cluster> <shell command>   (run as root)
#
# Runs a command of the plan (HEALTH exec probe, QUORUM check, LEADER query) as the
# cluster's service user, never as root.
# shellcheck source=prelude.sh
. ./prelude.sh
exec runuser -u "$cluster" -- sh -c "$2"
