#!/usr/bin/env bash
# Workers keep publishing results while an etcd server is down, and a paused worker loses its
# registration (its etcd lease expires) and registers again once resumed, without a restart.
source "$(dirname "$0")/lib.sh"
require_env
require_faults

mapfile -t servers < <(nodes_in_group servers)
mapfile -t workers < <(nodes_in_group workers)
((${#servers[@]} >= 3 && ${#workers[@]} >= 1)) || fail "needs 3 servers and a worker"

# blocks_done <worker> <through server>: what the worker last published.
blocks_done() {
  etcd_get "$2" "/$CLUSTER_DEPLOY_NAME/results/$1" | json 'd["blocks_done"]'
}
# all_grew <server> <worker=blocks>...: true when every worker published more than noted.
all_grew() {
  local server=$1 pair now
  shift
  for pair in "$@"; do
    now=$(blocks_done "${pair%%=*}" "$server" 2>/dev/null) || return 1
    ((now > ${pair#*=})) || return 1
  done
}

stopped=$(fault stop one --service etcd --for 120)
[[ "$(on_node "$stopped" "systemctl is-active $CLUSTER_DEPLOY_NAME-etcd.service" || true)" != active ]] ||
  fail "etcd still runs on $stopped after the stop fault"
mapfile -t running < <(without "$stopped" "${servers[@]}")
noted=()
for worker in "${workers[@]}"; do
  noted+=("$worker=$(blocks_done "$worker" "${running[0]}")")
done
wait_until 30 "workers stopped publishing while etcd on $stopped was down" all_grew "${running[0]}" "${noted[@]}"
say "workers kept publishing with etcd down on $stopped"
fault heal >/dev/null
wait_until 30 "etcd did not start again on $stopped after heal" \
  on_node "$stopped" "systemctl is-active --quiet $CLUSTER_DEPLOY_NAME-etcd.service"

worker=${workers[0]}
key=/$CLUSTER_DEPLOY_NAME/workers/$worker
pid=$(main_pid "$worker" worker)
registered() { [[ -n "$(etcd_get "${servers[0]}" "$key")" ]]; }
unregistered() {
  local value
  value=$(etcd_get "${servers[0]}" "$key") && [[ -z "$value" ]]
}
wait_until 30 "$worker is not registered before the pause" registered
fault pause "$worker" --service worker --for 120 >/dev/null
state=$(on_node "$worker" "ps -o stat= -p $pid")
[[ "$state" == T* ]] || fail "$worker's process $pid is not stopped after pause (state '$state')"
wait_until 30 "$worker's registration did not expire while it was paused" unregistered
before=$(blocks_done "$worker" "${servers[0]}")
sleep 2
[[ "$(blocks_done "$worker" "${servers[0]}")" == "$before" ]] || fail "$worker published while paused"
say "$worker paused: its registration expired"

fault resume "$worker" --service worker >/dev/null
wait_until 30 "$worker did not register again after resume" registered
[[ "$(etcd_get "${servers[0]}" "$key" | json 'd["pid"]')" == "$pid" ]] ||
  fail "$worker registered again from another process: it was restarted, not resumed"
wait_until 20 "$worker did not publish after resume" all_grew "${servers[0]}" "$worker=$before"
say "ok: workers published through a server stop; $worker (pid $pid) registered again after pause/resume"
