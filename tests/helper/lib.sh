# Shared helpers of the cluster-deploy helper's own integration tests (sourced).
# They build on the example cluster's test library (on_node, fail, say, ...).
source "$(dirname "${BASH_SOURCE[0]}")/../../examples/etcd-workers/tests/lib.sh"

HELPER_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/cluster-deploy-test.XXXXXX")
trap 'drop_work' EXIT

# drop_work: removes the work folder. The audit of the test's plan variants (each writes its
# own, in its output folder under $WORK) joins the build tree's first, so that the evidence of
# a failed test holds those runs and their steps too (cluster-deploy runs --run <id>).
drop_work() {
  local out runs
  out=$(plan_attr 'r.get("output")' 2>/dev/null) || out=
  if [[ -n $out && -d $out ]]; then
    for runs in "$WORK"/*/render/runs.jsonl; do
      [[ -f $runs ]] || continue
      cat "$runs" >>"$out/runs.jsonl"
      mkdir -p "$out/runs"
      cp "${runs%.jsonl}"/*.jsonl "$out/runs/" 2>/dev/null || true
    done
  fi
  rm -rf "$WORK"
}

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
  drop_work
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

# no_run_leftovers <when>: on no node a lock, fan-out key or inbox file of ours (what a run that
# ended, even by a signal, must not leave behind).
no_run_leftovers() {
  local node c=$CLUSTER_DEPLOY_NAME
  while read -r node _; do
    on_node "$node" "sudo sh -c 'test ! -e /run/cluster-deploy/$c/lock && test ! -e /opt/$c/relay/.ssh/authorized_keys && test ! -e /run/cluster-deploy/$c/relay && test -z \"\$(ls -A /opt/$c/relay/inbox 2>/dev/null)\"'" ||
      fail "$node: a lock, fan-out key or inbox file is left $1"
  done < <(all_nodes)
}

# behind_current: the first "<node> <service>" whose running process was not started from the
# release `current` points to (its service is restarting, or runs an older release); fails when
# there is none.
behind_current() {
  local node group service
  while read -r node group; do
    case $group in servers) service=etcd ;; workers) service=worker ;; *) continue ;; esac
    if [[ "$(exe_release_of "$node" "$service")" != "$(release_of "$node")" ]]; then
      echo "$node $service"
      return 0
    fi
  done < <(all_nodes)
  return 1
}

# runs_current <when>: every service runs the release `current` points to, within 30 s (a restart
# that was queued may still be under way).
runs_current() {
  local deadline=$((SECONDS + 30)) behind
  while behind=$(behind_current); do
    ((SECONDS < deadline)) || fail "${behind% *}: ${behind#* } does not run the release current points to $1"
    sleep 1
  done
}

# converges <plan> <what>: after <what>, the same deploy again exits 0; then a dry run shows nothing
# to change, no node has a staging folder, partly uploaded file, lock, key or inbox file left, and
# every service runs from the release `current` points to.
converges() {
  local node c=$CLUSTER_DEPLOY_NAME
  run_helper 0 "$WORK/again.log" deploy --plan "$1"
  run_helper 0 "$WORK/dry.log" deploy --plan "$1" --dry-run
  if grep -E "^[a-z0-9]+: would deploy:" "$WORK/dry.log" | grep -qv ": would deploy: unchanged"; then
    fail "after $2 and the same deploy again, a node still has changes"
  fi
  no_run_leftovers "after $2 and the same deploy again"
  while read -r node _; do
    on_node "$node" "sudo sh -c 'test -z \"\$(ls -d /opt/$c/releases/.staging-* /opt/$c/releases/.partial/* 2>/dev/null)\"'" ||
      fail "$node: a staging folder or partly uploaded file is left after $2 and the same deploy again"
  done < <(all_nodes)
  runs_current "after $2 and the same deploy again"
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

# check_acked <acked file> <node>: every acknowledged write is readable through the node (one
# linearizable range read of the writer's keys).
check_acked() {
  [[ -s $1 ]] || return 0
  local first prefix
  first=$(awk 'NR == 1 { print $2 }' "$1")
  prefix=${first%/*}/
  etcd_post "$2" /v3/kv/range "{\"key\":\"$(b64 "$prefix")\",\"range_end\":\"$(b64 "${prefix%/}0")\"}" \
    >"$WORK/range.json" || fail "could not read the acknowledged writes back through $2"
  python3 - "$1" "$WORK/range.json" "$WORK/lost" <<'PY' || fail "acknowledged writes are lost: $(cat "$WORK/lost")"
import base64, json, sys
kvs = json.load(open(sys.argv[2])).get("kvs", [])
have = {base64.b64decode(kv["key"]).decode(): base64.b64decode(kv.get("value", "")).decode() for kv in kvs}
lost = [k for k in (line.split()[1] for line in open(sys.argv[1])) if have.get(k) != "v" + k.rsplit("/", 1)[1]]
open(sys.argv[3], "w").write(" ".join(lost[:10]) + (" ..." if len(lost) > 10 else ""))
sys.exit(1 if lost else 0)
PY
}
