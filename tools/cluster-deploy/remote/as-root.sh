#!/bin/sh
# as-root.sh <command> [arguments...]
#
# Runs every node action: directly when the login user is root, else through
# non-interactive sudo (a password prompt would hang; sudo -n fails instead).
if [ "$(id -u)" -eq 0 ]; then exec "$@"; else exec sudo -n -- "$@"; fi
