#!/bin/sh
# current.sh <cluster>   (run as root)
#
# Prints the path `current` points to (nothing when nothing is deployed). Changes nothing.
# shellcheck source=prelude.sh
. ./prelude.sh
readlink "$root/current" || true
