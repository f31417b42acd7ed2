#!/usr/bin/env bash
# A lossy link (issue 25): `fault loss` drops the given share of the packets between the chosen
# nodes, as the nodes themselves see it. Of 60 TCP connections from a worker to a server's sshd
# (0.5 s each: a dropped SYN or SYN-ACK fails one), some get through and some do not while the
# fault is on; all of them before it and after heal. The controller's own links stay whole, and
# status shows the fault on the worker.
source "$(dirname "$0")/lib.sh"
require_env

plan=$CLUSTER_DEPLOY_PLAN
server=$(nodes_in_group servers | head -n 1)
worker=$(nodes_in_group workers | head -n 1)
address=$(awk -v n="$server" '$1 == n { print $2 }' "$CLUSTER_DEPLOY_NODES")
trap '"$CLUSTER_DEPLOY" heal --plan "$plan" >/dev/null 2>&1 || true; drop_work' EXIT

# connects <n>: how many of <n> connections from the worker to the server's sshd got through.
connects() {
  on_node "$worker" "ok=0; for i in \$(seq $1); do timeout 0.5 bash -c '</dev/tcp/$address/22' 2>/dev/null && ok=\$((ok + 1)); done; echo \$ok"
}

before=$(connects 20)
((before == 20)) || fail "only $before of 20 connections from $worker to $server got through before the fault"
run_helper 0 "$WORK/loss.log" fault loss "$worker" --from "$server" --percent 50 --for 120 --plan "$plan"
grep -q "loses 50% of the packets from $server" "$WORK/loss.log" || fail "the fault does not say what it does"
during=$(connects 60)
# Each side drops half of what comes from the other, and a connection needs its SYN and the
# SYN-ACK: about a quarter get through (15 of 60; fewer than 3 or more than 40 is a one in a
# million chance).
((during >= 3 && during <= 40)) ||
  fail "$during of 60 connections got through with 50% loss each way (about 15 expected)"
run_helper 0 "$WORK/status.log" status --plan "$plan"
grep -E "^$worker .*loss\(" "$WORK/status.log" >/dev/null || fail "status does not show the lossy link on $worker"
on_node "$server" true || fail "the controller lost its link to $server"
on_node "$worker" true || fail "the controller lost its link to $worker"
run_helper 0 "$WORK/heal.log" heal --plan "$plan"
after=$(connects 20)
((after == 20)) || fail "only $after of 20 connections got through after heal"
say "ok: with 50% loss each way, $during of 60 connections from $worker to $server got through; 20 of 20 before and after heal"
