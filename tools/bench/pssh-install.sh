#!/usr/bin/env bash
# Run as root on every node of one group by tools/bench/pssh-deploy.sh (parallel-ssh -I feeds it to
# `sudo bash -s -- NAME SERVICE STAGE`): installs the staged files of this node, restarts the service
# and waits until it is healthy (at most 120 s).
set -euo pipefail
name=$1 service=$2 stage=$3 node=$(hostname)
unit=$name-$service.service
marker=/var/lib/$name/worker/registered

id -u "$name" >/dev/null 2>&1 || useradd --system --user-group --no-create-home --shell /usr/sbin/nologin "$name"
install -d -m 0755 "/opt/$name/current/bin" "/opt/$name/current/etc/$service"
install -m 0755 "$stage"/bin/* "/opt/$name/current/bin/"
install -m 0640 -g "$name" "$stage/nodes/$node/etc/$service"/* "/opt/$name/current/etc/$service/"
install -m 0644 "$stage/nodes/$node/units/$unit" /etc/systemd/system/
rm -rf "$stage"
systemctl daemon-reload
systemctl enable --quiet "$unit"

healthy() {  # etcd answers /health; a worker wrote its marker after this restart
  if [ "$service" = etcd ]; then
    [[ $(curl -fsS --max-time 2 http://127.0.0.1:2379/health 2>/dev/null) == *'"health":"true"'* ]]
  else
    [[ -s $marker && $marker -nt $stamp ]]
  fi
}

stamp=$(mktemp)
systemctl restart "$unit"
for _ in $(seq 240); do
  healthy && break
  sleep 0.5
done
status=0
systemctl is-active --quiet "$unit" && healthy || status=1
rm -f "$stamp"
[ $status = 0 ] || { echo "$node: $unit not healthy after 120 s" >&2; exit 1; }
