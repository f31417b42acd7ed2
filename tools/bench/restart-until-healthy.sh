#!/usr/bin/env bash
# A floor of tools/bench/compare.sh, run as root on a node of cluster-deploy's example cluster:
# restarts the node's SERVICE (etcd or worker) and prints the milliseconds until it is healthy
# again, timed on the node (so no SSH in it): etcd answers /health, a worker has written its
# `registered` marker anew. With UNTIL=active, until systemd has the unit active (a bootstrap
# node's step: its peers start once it is). Gives up after 120 s.
# With `wipe`, it only stops the service and removes its data (and prints 0): run on every server
# before a timed start, etcd then founds its group anew, as in a first deploy.
#
#   restart-until-healthy.sh SERVICE [healthy|active|wipe]
set -euo pipefail
service=${1:?service} until=${2:-healthy}
marker=/var/lib/example/worker/registered

healthy() {
  case $until/$service in
    active/*) systemctl is-active --quiet "example-$service.service" ;;
    healthy/etcd) [[ $(curl -fsS --max-time 2 http://127.0.0.1:2379/health 2>/dev/null) == *'"health":"true"'* ]] ;;
    healthy/worker) [ -s "$marker" ] && [ "$marker" -nt "$stamp" ] ;;
    *) echo "restart-until-healthy: unknown service $service or state $until" >&2; exit 2 ;;
  esac
}

if [ "$until" = wipe ]; then
  systemctl stop "example-$service.service"
  find "/var/lib/example/$service" -mindepth 1 -delete
  echo 0
  exit 0
fi
stamp=$(mktemp)
t0=$(date +%s%N)
systemctl restart "example-$service.service"
for _ in $(seq 1200); do
  healthy && break
  sleep 0.1
done
t1=$(date +%s%N)
status=0
healthy || status=1
rm -f "$stamp"
[ $status = 0 ] || { echo "$(hostname): example-$service not $until after 120 s" >&2; exit 1; }
echo $(((t1 - t0) / 1000000))
