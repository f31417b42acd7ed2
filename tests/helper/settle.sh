#!/usr/bin/env bash
# The settle window catches a build that starts, passes its probe and crashes a moment later:
# the canary must stay the same process for the window (2 s by default), so such a build stops
# at the canary and goes back. With the service's own SETTLE 0 the probe alone decides.
source "$(dirname "$0")/lib.sh"
require_env
restore_on_exit : # no undo of its own

program=$(service_program worker)
name=$(basename "$program")
mkdir -p "$WORK/late"
printf '#!/bin/sh\nsleep 1\necho "late crash" >&2\nexit 1\n' >"$WORK/late/$name"
chmod +x "$WORK/late/$name"
worker=$(nodes_in_group workers | head -n 1)

late=$(plan_variant late --program "worker=$WORK/late/$name" --health-exec 'worker=true')
run_helper 1 "$WORK/late.log" deploy --plan "$late" --health-timeout 8
grep -qE "^[A-Za-z0-9._-]+ +worker +rolled back" "$WORK/late.log" ||
  fail "the canary of a build that crashes after 1 s was not rolled back"
say "ok: the default settle window caught a build that crashes 1 s after it starts; the canary went back"

zero=$(plan_variant zero --program "worker=$WORK/late/$name" --health-exec 'worker=true' --settle worker=0)
run_helper 0 "$WORK/zero.log" deploy --plan "$zero" --node "$worker"
[[ $(summary_action "$WORK/zero.log" "$worker" worker) == restarted ]] || fail "$worker: the worker was not restarted"
say "ok: with SETTLE 0 the passing probe alone counted (the same build passed on $worker); restoring"
