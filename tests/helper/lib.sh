# Shared helpers of the cluster-deploy helper's own integration tests (sourced).
# They build on the example cluster's test library (on_node, fail, say, ...).
source "$(dirname "${BASH_SOURCE[0]}")/../integration/lib.sh"

HELPER_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/cluster-deploy-test.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

plan_attr() {  # plan_attr <xpath-ish python expr over root>
  python3 -c 'import sys, xml.etree.ElementTree as ET; r = ET.parse(sys.argv[1]).getroot(); print(eval(sys.argv[2]))' \
    "$CLUSTER_DEPLOY_PLAN" "$1"
}

plan_variant() {  # plan_variant <name> [options of plan_variant.py]: prints the new plan's path
  local name=$1
  shift
  python3 "$HELPER_DIR/plan_variant.py" "$CLUSTER_DEPLOY_PLAN" "$WORK/$name" "$@"
}

# unit_fingerprint <node> <service>: "MainPID NRestarts" of <cluster>-<service> on the node.
unit_fingerprint() {
  on_node "$1" "systemctl show -p MainPID -p NRestarts --value $CLUSTER_DEPLOY_NAME-$2.service" | tr '\n' ' '
}

# fingerprints: one line per node and service, "node service MainPID NRestarts".
fingerprints() {
  local node group
  while read -r node group; do
    case $group in
      servers) echo "$node etcd $(unit_fingerprint "$node" etcd)" ;;
      workers) echo "$node worker $(unit_fingerprint "$node" worker)" ;;
    esac
  done < <(all_nodes)
}

# run_helper <expected exit> <log file> <args...>: runs the helper, checks its exit code.
run_helper() {
  local expected=$1 log=$2
  shift 2
  local code=0
  "$CLUSTER_DEPLOY" "$@" >"$log" 2>&1 || code=$?
  sed 's/^/    | /' "$log"
  [[ $code -eq $expected ]] || fail "cluster-deploy $1 exited $code, expected $expected"
}

# summary_action <log> <node> <service>: the ACTION column of the summary row.
summary_action() {
  awk -v n="$2" -v s="$3" '$1 == n && $2 == s { a = $3 } END { print a }' "$1"
}
