#!/usr/bin/env bash
# The competitor "by hand with parallel-ssh" of tools/bench/compare.sh: what a user writes with
# Debian's pssh (parallel-scp, parallel-ssh) to do the job cluster-deploy does for the example
# cluster. Every run copies every file and restarts every service (no change detection):
# parallel-scp of the binary and the rendered configs and units to every node, then parallel-ssh
# runs pssh-install.sh on the servers (install, restart, wait until healthy), then on the workers.
#
#   pssh-deploy.sh deploy NAME SSH_CONFIG NODES RENDER ETCD_BINARY WORKER_BINARY
#   pssh-deploy.sh status NAME SSH_CONFIG NODES
#   pssh-deploy.sh clean  NAME SSH_CONFIG NODES
#
# NAME is the cluster name the files were rendered for: units NAME-etcd.service and
# NAME-worker.service, files under /opt/NAME/current, data under /var/lib/NAME, user NAME.
# NODES is the local cluster's nodes.txt (name address group). RENDER is the folder with
# RENDER/<node>/etc/<service>/* and RENDER/<node>/units/*.service (cluster-deploy's render).
set -euo pipefail

command=${1:?command} name=${2:?name} ssh_config=${3:?ssh_config} nodes=${4:?nodes file}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /tmp/bench-pssh.XXXXXX)
trap 'rm -rf "$work"' EXIT
stage_dir=/home/deploy/$name-stage   # on the node

awk '$3 == "servers" {print $1}' "$nodes" >"$work/servers"
awk '$3 == "workers" {print $1}' "$nodes" >"$work/workers"
cat "$work/servers" "$work/workers" >"$work/all"
count=$(wc -l <"$work/all")
pssh_opts=(-p "$count" -t 300 -x "-F $ssh_config")

# stage <group> <binary> <render>: the local folder parallel-scp sends to the group's nodes.
stage() {
  local group=$1 binary=$2 render=$3 node
  mkdir -p "$work/stage-$group/bin" "$work/stage-$group/nodes"
  cp "$binary" "$work/stage-$group/bin/"
  while read -r node; do
    cp -r "$render/$node" "$work/stage-$group/nodes/"
  done <"$work/$group"
}

deploy() {
  local render=${1:?render dir} etcd=${2:?etcd binary} worker=${3:?worker binary}
  stage servers "$etcd" "$render"
  stage workers "$worker" "$render"
  parallel-scp "${pssh_opts[@]}" -h "$work/servers" -r "$work/stage-servers" "$stage_dir" &
  parallel-scp "${pssh_opts[@]}" -h "$work/workers" -r "$work/stage-workers" "$stage_dir"
  wait $!
  parallel-ssh "${pssh_opts[@]}" -h "$work/servers" -I "sudo bash -s -- $name etcd $stage_dir" <"$here/pssh-install.sh"
  parallel-ssh "${pssh_opts[@]}" -h "$work/workers" -I "sudo bash -s -- $name worker $stage_dir" <"$here/pssh-install.sh"
}

status() {
  parallel-ssh "${pssh_opts[@]}" -h "$work/all" -i \
    "systemctl show --property=Id,ActiveState,SubState,MainPID,ActiveEnterTimestamp,NRestarts '$name-*.service'"
}

clean() {
  parallel-ssh "${pssh_opts[@]}" -h "$work/all" "sudo sh -c '
    for unit in /etc/systemd/system/$name-*.service; do
      [ -e \"\$unit\" ] || continue
      systemctl disable --now --quiet \"\${unit##*/}\"; rm -f \"\$unit\"
    done
    systemctl daemon-reload
    rm -rf /opt/$name /var/lib/$name $stage_dir
    if id -u $name >/dev/null 2>&1; then userdel $name; fi'"
}

case $command in
  deploy) deploy "${@:5}" ;;
  status) status ;;
  clean) clean ;;
  *) echo "pssh-deploy: unknown command $command" >&2; exit 2 ;;
esac
