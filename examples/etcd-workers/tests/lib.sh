# Shared helpers of the example cluster's integration tests (sourced, not run).
#
# The tests run from CTest via cluster_deploy_add_test(), which sets:
#   CLUSTER_DEPLOY             the cluster-deploy helper
#   CLUSTER_DEPLOY_PLAN        the plan file (--plan)
#   CLUSTER_DEPLOY_SSH_CONFIG  an ssh_config for `ssh -F` (empty: the user's own)
#   CLUSTER_DEPLOY_NODES       lines "name address group"
#   CLUSTER_DEPLOY_NAME        the cluster name (key prefix /<name>/, units <name>-<service>)
# etcd is always queried on the nodes themselves (curl to 127.0.0.1:2379 over ssh), so the tests
# also work where the client port is firewalled.

set -euo pipefail

TEST_NAME=$(basename "$0" .sh)

fail() {
  echo "$TEST_NAME: FAIL: $*" >&2
  exit 1
}

say() {
  echo "$TEST_NAME: $*"
}

require_env() {
  local name
  for name in CLUSTER_DEPLOY CLUSTER_DEPLOY_PLAN CLUSTER_DEPLOY_NODES CLUSTER_DEPLOY_NAME; do
    [[ -n "${!name:-}" ]] || fail "$name is not set (run this test through ctest)"
  done
  [[ -r "$CLUSTER_DEPLOY_NODES" ]] || fail "node list $CLUSTER_DEPLOY_NODES is not readable"
}

# Names of the nodes of group $1, one per line, in file order.
nodes_in_group() {
  awk -v group="$1" '$1 !~ /^#/ && NF >= 3 && $3 == group { print $1 }' "$CLUSTER_DEPLOY_NODES"
}

# All node names with their group: "name group" per line.
all_nodes() {
  awk '$1 !~ /^#/ && NF >= 3 { print $1, $3 }' "$CLUSTER_DEPLOY_NODES"
}

# Quote $1 for a POSIX shell (ssh runs the remote command through the node's shell).
shell_quote() {
  printf "'%s'" "${1//\'/\'\\\'\'}"
}

# on_node <node> <command string>: run a shell command on the node, bounded in time.
on_node() {
  local node=$1
  shift
  local -a ssh_args=(-o BatchMode=yes -o ConnectTimeout=10 -o ServerAliveInterval=5 -o ServerAliveCountMax=3)
  if [[ -n "${CLUSTER_DEPLOY_SSH_CONFIG:-}" ]]; then
    ssh_args=(-F "$CLUSTER_DEPLOY_SSH_CONFIG" "${ssh_args[@]}")
  fi
  timeout 60 ssh "${ssh_args[@]}" "$node" "$*" </dev/null
}

# etcd_post <node> <path> <json body>: POST to etcd's JSON gateway on the node; prints the response
# body, and fails on an HTTP error status as well (curl's --fail-with-body, which bullseye's curl
# 7.74 lacks: the status comes as the last line instead).
etcd_post() {
  local out code
  out=$(on_node "$1" "curl -sS -m 5 -X POST -H 'Content-Type: application/json' -w '\n%{http_code}' \
    --data-binary $(shell_quote "$3") http://127.0.0.1:2379$2") || return
  code=${out##*$'\n'}
  printf '%s\n' "${out%$'\n'*}"
  [[ $code == 2?? ]]
}

b64() {
  printf '%s' "$1" | base64 -w0
}

# json <python expression over `d`> : evaluates it on the JSON document read from stdin and prints
# the result (strings bare, other values as JSON); one line on stderr and status 1 if it cannot.
json() {
  python3 -c '
import base64, json, sys
text = sys.stdin.read()
try:
    d = json.loads(text)
    v = eval(sys.argv[1], {"b64d": lambda s: base64.b64decode(s).decode(), "json": json}, {"d": d})
except Exception as e:
    sys.exit("json: %s: %s in %r" % (sys.argv[1].split()[0], type(e).__name__, text[:120]))
print(v if isinstance(v, str) else json.dumps(v))
' "$1"
}

# record_operation <process> <op> <start> <end> <exit status of the request>: one line of the
# test's history (docs/testing.md, "A test's history"), read by timeline.html when the test fails.
# Status 0 is ok, 1 an HTTP error (etcd refused: fail), anything else (a timeout, no connection)
# unknown: the write may or may not have happened.
record_operation() {
  [[ -n "${CLUSTER_DEPLOY_HISTORY:-}" ]] || return 0
  local result=unknown
  case $5 in 0) result=ok ;; 1) result=fail ;; esac
  printf '{"process":"%s","op":"%s","start":%s,"end":%s,"result":"%s"}\n' "$1" "$2" "$3" "$4" "$result" \
    >>"$CLUSTER_DEPLOY_HISTORY"
}

etcd_put() {
  local start=${EPOCHREALTIME/,/.} status=0 # a locale's decimal comma would not be JSON
  etcd_post "$1" /v3/kv/put "{\"key\":\"$(b64 "$2")\",\"value\":\"$(b64 "$3")\"}" >/dev/null || status=$?
  record_operation "client via $1" "put $2" "$start" "${EPOCHREALTIME/,/.}" "$status"
  return "$status"
}

# fail_here_if_asked <what the test is doing>: with CLUSTER_DEPLOY_EXAMPLE_FAIL=fail the test
# fails here, with =hang it stops making progress here (until its deadline): how
# helper.evidence shows what a failed or timed-out test leaves behind.
fail_here_if_asked() {
  case ${CLUSTER_DEPLOY_EXAMPLE_FAIL:-} in
  fail) fail "failing on purpose $1 (CLUSTER_DEPLOY_EXAMPLE_FAIL=fail)" ;;
  hang)
    say "hanging on purpose $1 (CLUSTER_DEPLOY_EXAMPLE_FAIL=hang)"
    local fd
    exec {fd}<> <(:) # a read that never gets a line, with no process left behind to wait on
    read -r -t 3600 -u "$fd" || true
    ;;
  esac
}

# etcd_get <node> <key>: prints the value, or nothing when the key does not exist.
etcd_get() {
  etcd_post "$1" /v3/kv/range "{\"key\":\"$(b64 "$2")\"}" |
    json 'b64d(d["kvs"][0].get("value", "")) if d.get("kvs") else ""'
}

# etcd_get_local <node> <key>: like etcd_get, but a serializable read: the node's own copy of the
# data, answered without asking the leader (what a member that just caught up holds).
etcd_get_local() {
  etcd_post "$1" /v3/kv/range "{\"key\":\"$(b64 "$2")\",\"serializable\":true}" |
    json 'b64d(d["kvs"][0].get("value", "")) if d.get("kvs") else ""'
}

# etcd_status <node> <field>: a field of the member's /v3/maintenance/status (leader, raftTerm, ...).
etcd_status() {
  etcd_post "$1" /v3/maintenance/status '{}' | json "d.get(\"$2\", \"0\")"
}

# main_pid <node> <service>: the MainPID of <cluster>-<service> on the node (0 when not running).
main_pid() {
  on_node "$1" "systemctl show -p MainPID --value $CLUSTER_DEPLOY_NAME-$2.service"
}

# faults_allowed: the plan's faults attribute: "allowed" (FAULTS), "corrupt" (CORRUPT_FAULTS, or
# the local cluster) or "" (neither).
faults_allowed() {
  python3 -c 'import sys, xml.etree.ElementTree as ET; print(ET.parse(sys.argv[1]).getroot().get("faults", ""))' \
    "$CLUSTER_DEPLOY_PLAN"
}

# require_faults [corrupt]: ends the test as skipped (exit 77) unless the inventory allows faults
# (cluster_deploy_inventory(... FAULTS), or the local cluster), and with "corrupt" unless it also
# allows corrupt faults (CORRUPT_FAULTS).
require_faults() {
  local allowed
  allowed=$(faults_allowed)
  if [[ ${1:-} == corrupt ]]; then
    [[ $allowed == corrupt ]] && return 0
    echo "$TEST_NAME: skipped: this inventory does not allow corrupt faults (cluster_deploy_inventory(... CORRUPT_FAULTS))"
    exit 77
  fi
  [[ $allowed == allowed || $allowed == corrupt ]] && return 0
  echo "$TEST_NAME: skipped: this inventory does not allow faults (cluster_deploy_inventory(... FAULTS))"
  exit 77
}

# require_teardown: ends the test as skipped (exit 77) when the project's TEARDOWN is none: the
# test stops services, which a real cluster must not see unless the project asked for it.
require_teardown() {
  [[ "${CLUSTER_DEPLOY_TEARDOWN:-none}" != none ]] && return 0
  echo "$TEST_NAME: skipped: it stops services, and this project's TEARDOWN is none (cluster_deploy_inventory(... TEARDOWN down|clean))"
  exit 77
}

# fault <arguments of cluster-deploy fault>: injects a fault; prints the nodes it hit.
fault() {
  [[ -n "${CLUSTER_DEPLOY_FAULT:-}" ]] || fail "CLUSTER_DEPLOY_FAULT is not set (run this test through ctest)"
  "$CLUSTER_DEPLOY_FAULT" "$@" || fail "cluster-fault $* failed"
}

# without <word> <words...>: the words except <word>, one a line.
without() {
  local skip=$1 word
  shift
  for word in "$@"; do [[ $word == "$skip" ]] || echo "$word"; done
}

etcd_delete() {
  etcd_post "$1" /v3/kv/deleterange "{\"key\":\"$(b64 "$2")\"}" >/dev/null
}

# wait_until <seconds> <what> <command...>: retries the command every second until it succeeds;
# fails the test with <what> after <seconds>.
wait_until() {
  local seconds=$1 what=$2
  shift 2
  local deadline=$((SECONDS + seconds))
  until "$@"; do
    ((SECONDS < deadline)) || fail "$what (waited ${seconds}s)"
    sleep 1
  done
}

# result_field <worker> <field>: a field of the result the worker published last (read from the
# first server's etcd).
result_field() {
  etcd_get "$(nodes_in_group servers | head -n 1)" "/$CLUSTER_DEPLOY_NAME/results/$1" | json "d.get('$2', '')"
}

# A key that no other run uses, under the cluster's own prefix.
unique_test_key() {
  echo "/$CLUSTER_DEPLOY_NAME/tests/$1-$(date +%s%N)-$$"
}
