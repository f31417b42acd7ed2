#!/usr/bin/env bash
# Benchmark: deploy the example cluster (3 etcd servers + N-3 workers) to an N-node local
# cluster and time first deploy, unchanged redeploy, a config change, status, down and up.
#   tools/bench/deploy-bench.sh BUILD_DIR N     (as root; N from 4 to 40; local cluster must be down)
# It brings its own local cluster up and takes it down again. Results go to stdout as a table.
set -euo pipefail

build=$(cd "${1:?build dir}" && pwd)
count=${2:?node count}
repo=$(cd "$(dirname "$0")/../.." && pwd)
helper=$build/tools/cluster-deploy/cluster-deploy
plan=$build/cluster-deploy/plan.xml
local_cluster=$repo/tools/local-cluster/local-cluster
work=$(mktemp -d /tmp/cluster-deploy-bench.XXXXXX)

[[ -x $helper && -r $plan ]] || { echo "deploy-bench: build $build first (preset local-cluster)" >&2; exit 2; }
((count >= 4 && count <= 40)) || { echo "deploy-bench: N must be 4-40" >&2; exit 2; }

cleanup() {
  "$helper" clean --plan "$work/plan.xml" --purge-data >/dev/null 2>&1 || true
  "$local_cluster" down >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/inventory"
for i in 1 2 3; do echo "server$i:10.213.77.1$i"; done >"$work/inventory/servers.txt"
for ((i = 1; i <= count - 3; i++)); do echo "worker$i:10.213.77.$((20 + i)) shard=$((i - 1))"; done >"$work/inventory/workers.txt"

"$local_cluster" up --inventory "$work/inventory" --out "$work/local-cluster" --helper "$helper" >/dev/null
python3 "$repo/tests/helper/plan_variant.py" "$plan" "$work" --inventory "$work/inventory" \
  --ssh-config "$work/local-cluster/ssh_config" >/dev/null
template=$(python3 -c 'import sys, xml.etree.ElementTree as ET; print(ET.parse(sys.argv[1]).getroot().find("service[@name=\"worker\"]/config").get("template"))' "$plan")
cp "$template" "$work/worker.conf.in"
echo "# bench change" >>"$work/worker.conf.in"
python3 "$repo/tests/helper/plan_variant.py" "$plan" "$work/changed" --inventory "$work/inventory" \
  --ssh-config "$work/local-cluster/ssh_config" --template "worker=$work/worker.conf.in" >/dev/null

step() {  # step <name> <helper args...>
  local name=$1 start ms
  shift
  start=$(date +%s%N)
  "$helper" "$@" >"$work/$name.log" 2>&1 || { echo "deploy-bench: $name failed:" >&2; tail -n 20 "$work/$name.log" >&2; exit 1; }
  ms=$((($(date +%s%N) - start) / 1000000))
  printf '%-18s %3d.%01d s\n' "$name" $((ms / 1000)) $((ms % 1000 / 100))
}

echo "nodes: $count (3 etcd servers, $((count - 3)) workers), $(nproc) cores, $(date -u +%F)"
step first-deploy deploy --plan "$work/plan.xml"
step unchanged-deploy deploy --plan "$work/plan.xml"
step config-change deploy --plan "$work/changed/plan.xml"
step status status --plan "$work/plan.xml"
step down down --plan "$work/plan.xml"
step up up --plan "$work/plan.xml"
grep -q '^nothing changed on any node$' "$work/unchanged-deploy.log" || { echo "deploy-bench: unchanged deploy changed something" >&2; exit 1; }
