#!/usr/bin/env bash
# A service whose health probe never passes fails within --health-timeout, the summary
# names it and the unit's last journal lines are printed; --service limits the run to it.
source "$(dirname "$0")/lib.sh"
require_env

worker=$(nodes_in_group workers | head -n 1)
variant=$(plan_variant unhealthy --health-exec "worker=test -e @data_dir@/no-such-file")
before=$(fingerprints)
start=$SECONDS
run_helper 1 "$WORK/deploy.log" deploy --plan "$variant" --node "$worker" --service worker --health-timeout 5
((SECONDS - start < 60)) || fail "the health wait was not bounded by --health-timeout 5"
grep -qE "^$worker +worker +unchanged +FAILED: worker not healthy after 5s: health command 'test -e /var/lib/$CLUSTER_DEPLOY_NAME/worker/no-such-file' exited 1" \
  "$WORK/deploy.log" || fail "the summary does not name the failed health check"
grep -qE "^$worker \| .*example-worker" "$WORK/deploy.log" || fail "the unit's journal was not printed"
if grep -qE '^server[0-9]* ' "$WORK/deploy.log"; then fail "--node/--service did not limit the run"; fi
[[ "$(fingerprints)" == "$before" ]] || fail "a failing probe restarted something"
say "unhealthy worker reported within the timeout, with its journal"
