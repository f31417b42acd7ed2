#!/usr/bin/env bash
# The floor "one restart until healthy" of tools/bench/compare.sh, run as root on a worker of
# cluster-deploy's example cluster: restarts the worker and prints the milliseconds until it is
# registered again (timed on the node, so no SSH in it). Gives up after 120 s.
set -euo pipefail
marker=/var/lib/example/worker/registered
stamp=$(mktemp)
t0=$(date +%s%N)
systemctl restart example-worker.service
for _ in $(seq 1200); do
  [ -s "$marker" ] && [ "$marker" -nt "$stamp" ] && break
  sleep 0.1
done
t1=$(date +%s%N)
status=0
[ "$marker" -nt "$stamp" ] || status=1
rm -f "$stamp"
[ $status = 0 ] || { echo "$(hostname): example-worker not registered after 120 s" >&2; exit 1; }
echo $(((t1 - t0) / 1000000))
