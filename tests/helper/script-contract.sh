#!/usr/bin/env bash
# The fake transport's node scripts cannot drift from the real ones unnoticed (issue 27): the
# real read-only scripts (remote/state.sh, unit-state.sh, current.sh on a deployed server;
# list-faults.sh on a worker whose service is paused for the moment) run as root, what they
# print is saved, and the unit test binary's hidden test "[.contract]" parses
# it with NodeOps' parsers and checks that every kind of line the fake prints, the script prints.
#   script-contract.sh <cluster-deploy-tests>
source "$(dirname "$0")/lib.sh"
require_env
tests_binary=${1:?usage: script-contract.sh <cluster-deploy-tests>}
remote=$HELPER_DIR/../../tools/cluster-deploy/remote
node=$(nodes_in_group servers | head -n 1)
c=$CLUSTER_DEPLOY_NAME
contract=$WORK/contract
mkdir -p "$contract"
echo "$c" >"$contract/cluster"
echo etcd >"$contract/service"

# The scripts go to a folder of their own on each node (each sources prelude.sh beside it, as
# the helper inlines it) and leave with it.
payload=$(tar -C "$remote" -czf - state.sh unit-state.sh current.sh list-faults.sh prelude.sh | base64 -w0)
scratch_on() {  # scratch_on <node>: a folder with the scripts on <node>
  local dir
  dir=$(on_node "$1" "d=\$(mktemp -d) && echo $payload | base64 -d | tar -C \$d -xzf - && echo \$d")
  [[ $dir == /tmp/* ]] || fail "could not copy the scripts to $1"
  echo "$dir"
}
worker=$(nodes_in_group workers | head -n 1)
scratch=$(scratch_on "$node")
worker_scratch=$(scratch_on "$worker")
trap 'on_node "$node" "rm -rf $scratch" || true; on_node "$worker" "rm -rf $worker_scratch" || true
"$CLUSTER_DEPLOY" heal --plan "$CLUSTER_DEPLOY_PLAN" >/dev/null 2>&1 || true; drop_work' EXIT
on_node "$node" "cd $scratch && sudo sh state.sh $c" >"$contract/state.out" || fail "state.sh failed on $node"
on_node "$node" "cd $scratch && sudo sh unit-state.sh $c etcd -" >"$contract/unit-state.out" ||
  fail "unit-state.sh failed on $node"
on_node "$node" "cd $scratch && sudo sh current.sh $c" >"$contract/current.out" || fail "current.sh failed on $node"
run_helper 0 "$WORK/pause.log" fault pause "$worker" --service worker --for 30 --plan "$CLUSTER_DEPLOY_PLAN"
on_node "$worker" "cd $worker_scratch && sudo sh list-faults.sh $c" >"$contract/list-faults.out" ||
  fail "list-faults.sh failed on $worker"
run_helper 0 "$WORK/heal.log" heal --plan "$CLUSTER_DEPLOY_PLAN"
for out in state unit-state current list-faults; do
  [[ -s $contract/$out.out ]] || fail "$out.sh printed nothing on $node"
done

CD_CONTRACT_DIR=$contract "$tests_binary" '[contract]' || fail "the fake and the real node scripts disagree (above)"
say "ok: what state.sh, unit-state.sh, current.sh (on $node) and list-faults.sh (on $worker) print, the parsers read, and the fake prints nothing else"
