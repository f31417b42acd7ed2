#!/usr/bin/env bash
# --warm: an agent of this user keeps one SSH session per node open between runs. The first
# warm run starts it (socket in a folder only this user can open); later runs use the same
# sessions (no new TCP connection to any node); a warm run killed mid-deploy still frees its
# nodes at once (its sessions close with it); the agent exits by itself once idle.
source "$(dirname "$0")/lib.sh"
require_env

# A runtime folder of the test's own, so no agent of the user's is involved or left behind.
export XDG_RUNTIME_DIR=$WORK/runtime
mkdir -m 0700 "$XDG_RUNTIME_DIR"
agent_pattern="cluster-deploy agent --socket $XDG_RUNTIME_DIR/"
idle=8
worker=$(nodes_in_group workers | head -n 1)
record=/run/cluster-deploy/$CLUSTER_DEPLOY_NAME/lock
trap 'pkill -f "$agent_pattern" || true; drop_work' EXIT
node_count=$(all_nodes | wc -l)

agent_pid() { pgrep -f "$agent_pattern" || true; }
# The agent's TCP connections to port 22, as "local-address peer-address" lines.
sessions_of() { ss -tnpH state established '( dport = :22 )' | awk -v p="pid=$1," 'index($0, p) { print $3, $4 }' | sort; }

# 1. The first warm run starts the agent: one session per node, a socket only we can open.
run_helper 0 "$WORK/first.log" deploy --plan "$CLUSTER_DEPLOY_PLAN" --warm "$idle"
pid=$(agent_pid)
[[ $(wc -w <<<"$pid") -eq 1 ]] || fail "expected one agent after a warm run, found: '$pid'"
first=$(sessions_of "$pid")
[[ $(grep -c . <<<"$first") -eq $node_count ]] || fail "the agent holds $(grep -c . <<<"$first") sessions for $node_count nodes: $first"
socket=$(find "$XDG_RUNTIME_DIR/cluster-deploy" -name 'agent-*.sock')
[[ $(stat -c %a "$XDG_RUNTIME_DIR/cluster-deploy") == 700 ]] || fail "the agent's folder is not 0700"
[[ $(stat -c %a "$socket") == 600 ]] || fail "the agent's socket $socket is not 0600"

# 2. Later runs use the same sessions: not one new connection to any node.
run_helper 0 "$WORK/second.log" deploy --plan "$CLUSTER_DEPLOY_PLAN" --warm "$idle"
grep -q '^nothing changed on any node$' "$WORK/second.log" || fail "the second warm deploy changed something"
run_helper 0 "$WORK/status.log" status --plan "$CLUSTER_DEPLOY_PLAN" --warm "$idle"
[[ $(agent_pid) == "$pid" ]] || fail "a second agent started"
[[ $(sessions_of "$pid") == "$first" ]] || fail "later warm runs opened new sessions: $(sessions_of "$pid")"

# 3. A warm run killed mid-deploy: the agent closes that run's sessions, so the nodes are
#    free at once for the next run (the lock names the connection, which is gone).
template=$(service_template worker)
cp "$template" "$WORK/worker.conf.in"
echo "# changed by the warm-sessions test $(date +%s%N)" >>"$WORK/worker.conf.in"
changed=$(plan_variant changed --template "worker=$WORK/worker.conf.in")
"$CLUSTER_DEPLOY" deploy --plan "$changed" --warm "$idle" >"$WORK/killed.log" 2>&1 &
deployer=$!
for _ in $(seq 100); do  # until the run holds the worker (at most 10 s)
  on_node "$worker" "sudo test -e $record" && break
  sleep 0.1
done
kill -9 "$deployer"
wait "$deployer" 2>/dev/null || true
run_helper 0 "$WORK/after-kill.log" deploy --plan "$CLUSTER_DEPLOY_PLAN" --warm "$idle" --lock-wait 10
[[ $(agent_pid) == "$pid" ]] || fail "the agent did not outlive a killed client"

# 4. Unused for $idle seconds, the agent exits and removes its socket (bounded wait).
for _ in $(seq $((idle + 10))); do
  [[ -z $(agent_pid) ]] && break
  sleep 1
done
[[ -z $(agent_pid) ]] || fail "the agent still runs $((idle + 10)) s after its last client"
[[ ! -e $socket ]] || fail "the idle agent left its socket behind"
say "ok: warm runs share one session per node, a killed warm run frees its nodes, the idle agent exits"
