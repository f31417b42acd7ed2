# Shared helpers of the cluster-deploy helper's own integration tests (sourced).
# They build on the example cluster's test library (on_node, fail, say, ...).
source "$(dirname "${BASH_SOURCE[0]}")/../integration/lib.sh"

HELPER_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/cluster-deploy-test.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# restore_on_exit [<command>...]: at exit, runs the command (a test's own undo, if any), deploys
# the plan's release again and removes the work folder; a failed deploy fails the test.
restore_on_exit() {
  RESTORE_FIRST=("$@")
  trap restore_now EXIT
}
restore_now() {
  local status=0
  ((${#RESTORE_FIRST[@]} == 0)) || "${RESTORE_FIRST[@]}"
  (run_helper 0 "$WORK/restore.log" deploy --plan "$CLUSTER_DEPLOY_PLAN") || status=1
  rm -rf "$WORK"
  ((status == 0)) || exit 1
}

# drop_nft_table <node> <table>: removes a test's own inet table from the node, if it is there.
drop_nft_table() {
  on_node "$1" "sudo nft delete table inet $2 2>/dev/null || true" || true
}

plan_attr() {  # plan_attr <xpath-ish python expr over root>
  python3 -c 'import sys, xml.etree.ElementTree as ET; r = ET.parse(sys.argv[1]).getroot(); print(eval(sys.argv[2]))' \
    "$CLUSTER_DEPLOY_PLAN" "$1"
}

# service_program <service>: the path of the service's program in the plan.
service_program() {
  plan_attr "r.find(\"service[@name='$1']/program\").text"
}
# service_template <service>: the template of the service's (first) config in the plan.
service_template() {
  plan_attr "r.find(\"service[@name='$1']/config\").get(\"template\")"
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

# release_of <node>: the release /opt/<cluster>/current points to on the node.
release_of() {
  basename "$(on_node "$1" "readlink /opt/$CLUSTER_DEPLOY_NAME/current")"
}

# exe_release_of <node> <service>: the release folder the service's running process was started from.
exe_release_of() {
  on_node "$1" "sudo readlink /proc/\$(systemctl show -p MainPID --value $CLUSTER_DEPLOY_NAME-$2.service)/exe" |
    sed -n 's|.*/releases/\([^/]*\)/.*|\1|p'
}

# start_writer <acked file> <nodes...>: a client that writes unique keys to etcd through the nodes in
# turn until $WORK/stop exists (at most 10 minutes), appending "<time> <key>" for each acknowledged
# write. Sets WRITER to its pid; stop_writer ends it.
start_writer() {
  local acked=$1
  shift
  local nodes=("$@") prefix
  prefix=$(unique_test_key writer)
  rm -f "$WORK/stop"
  (
    local i=0 deadline=$((SECONDS + 600))
    while [[ ! -e $WORK/stop ]] && ((SECONDS < deadline)); do
      if etcd_put "${nodes[i % ${#nodes[@]}]}" "$prefix/$i" "v$i" 2>/dev/null; then
        echo "$(date +%s.%N) $prefix/$i" >>"$acked"
      fi
      i=$((i + 1))
    done
  ) &
  WRITER=$!
}
stop_writer() {
  touch "$WORK/stop"
  wait "$WRITER" || true
}

# longest_gap <acked file>: the longest time, in seconds, between two acknowledged writes.
longest_gap() {
  awk 'NR > 1 && $1 - last > gap { gap = $1 - last } { last = $1 } END { printf "%.1f", gap }' "$1"
}

# check_acked <acked file> <node>: every acknowledged write is readable through the node.
check_acked() {
  local key
  while read -r _ key; do
    [[ "$(etcd_get "$2" "$key")" == "v${key##*/}" ]] || fail "acknowledged write $key is lost"
  done <"$1"
}
