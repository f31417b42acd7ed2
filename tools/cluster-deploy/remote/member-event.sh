#!/bin/sh
# member-event.sh <cluster> <service> <member> joined|left   (run as root)
#
# Leaves "member <service> <member> joined|left" in the node's journal under our tag, where
# the evidence of a failed test finds it (its summary and timeline show the group's changes).
# shellcheck source=prelude.sh
. ./prelude.sh
say_in_journal "member $2 $3 $4"
