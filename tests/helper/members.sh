#!/usr/bin/env bash
# members.sh <local-cluster tool>: a Raft group changes members with one edit of its servers
# and one deploy each (issue 24), while a client writes all along: 3 -> 5 members, 5 -> 3 (the
# leader among those leaving: leadership moved away first, TRANSFER; status shows them removed),
# removing 2 of 3 refused before anything changes, a removed member back (its old data set
# aside), and a dead member replaced (its node powered off first). After each:
# the group's member list equals the inventory, every member healthy, one leader; at the end
# no acknowledged write is lost.
# On 6 nodes of its own (m1-m6, booted here and taken down at the end), with the example's etcd
# as a cluster of its own ("members"), so the example cluster is not touched.
source "$(dirname "$0")/lib.sh"
require_env
tool=$1
if [[ ! -x $tool || "$(plan_attr 'r.find("ssh").get("config")')" != */local-cluster/ssh_config ]]; then
  echo "$TEST_NAME: skipped: it boots nodes of its own, which only the local cluster can"
  exit 77
fi

lc=$WORK/lc
mkdir -p "$WORK/all"
: >"$WORK/all/workers.txt"
# Addresses in the local cluster's subnet (that of the example's nodes), .41 to .46.
subnet=$(awk '$1 !~ /^#/ && NF >= 3 { sub(/\.[0-9]+$/, "", $2); print $2; exit }' "$CLUSTER_DEPLOY_NODES")
for i in 1 2 3 4 5 6; do echo "m$i:$subnet.$((40 + i)) image=bookworm"; done >"$WORK/all/servers.txt"
# inventory <name> <nodes...>: an inventory whose servers are these nodes; prints the plan for it.
inventory() {
  local name=$1 node
  shift
  mkdir -p "$WORK/inv-$name"
  : >"$WORK/inv-$name/workers.txt"
  for node in "$@"; do grep "^$node:" "$WORK/all/servers.txt"; done >"$WORK/inv-$name/servers.txt"
  python3 "$HELPER_DIR/plan_variant.py" "$CLUSTER_DEPLOY_PLAN" "$WORK/plan" --cluster members --only etcd \
    --inventory "$WORK/inv-$name" --ssh-config "$lc/ssh_config" >/dev/null
  echo "$WORK/plan/plan.xml"
}
cleanup() {
  stop_writer 2>/dev/null || true
  "$tool" down --inventory "$WORK/all" --out "$lc" --helper "$CLUSTER_DEPLOY" >/dev/null 2>&1 || true
  drop_work
}
trap cleanup EXIT
"$tool" up --inventory "$WORK/all" --out "$lc" --helper "$CLUSTER_DEPLOY" 2>&1 | tail -n 1 || fail "cannot boot m1-m6"
export CLUSTER_DEPLOY_SSH_CONFIG=$lc/ssh_config # on_node, etcd_put: these nodes

# members_are <node> <nodes...>: the group's member list, asked on <node>, is these nodes, every
# one healthy, and they agree on one leader (the example's QUORUM check).
members_are() {
  local first=$1 listed
  shift
  listed=$(on_node "$first" "cd /tmp && sudo -u members sh /opt/members/current/etc/etcd/etcd-members.sh" |
    awk '{ print $1 }' | sort | tr '\n' ' ')
  [[ $listed == "$(printf '%s\n' "$@" | sort | tr '\n' ' ')" ]] || { say "members: $listed"; return 1; }
  on_node "$first" "cd /tmp && sudo -u members sh /opt/members/current/etc/etcd/etcd-quorum.sh"
}

plan=$(inventory three m1 m2 m3)
run_helper 0 "$WORK/found.log" deploy --plan "$plan"
members_are m1 m1 m2 m3 || fail "the group was not founded with m1, m2, m3"
# The client writes through two members that stay in each phase (a write through a node that
# is gone would wait for its timeout: the client's gap, not the group's).
start_writer "$WORK/acked1" m1 m2
sleep 2

plan=$(inventory five m1 m2 m3 m4 m5)
run_helper 0 "$WORK/out.log" deploy --plan "$plan"
grep -q "m4: etcd: joins the group" "$WORK/out.log" || fail "the deploy did not say m4 joins"
on_node m4 "sudo journalctl -q -t cluster-deploy-members | grep -q 'member etcd m4 joined'" ||
  fail "m4's journal does not say it joined"
members_are m1 m1 m2 m3 m4 m5 || fail "after 3 -> 5 the members are not m1-m5"
[[ $(summary_action "$WORK/out.log" m1 etcd) == unchanged ]] || fail "a founding member was restarted by the scale-out"

leader=$("$CLUSTER_DEPLOY" leader --plan "$plan" --service etcd) || fail "no leader after 3 -> 5"
mapfile -t stay < <(printf '%s\n' m1 m2 m3 m4 m5 | grep -vx "$leader" | head -n 3)
mapfile -t gone < <(printf '%s\n' m1 m2 m3 m4 m5 | grep -vxF -f <(printf '%s\n' "${stay[@]}"))
stop_writer
start_writer "$WORK/acked2" "${stay[0]}" "${stay[1]}"
plan=$(inventory three-again "${stay[@]}")
# As the deploy target does: the local cluster's `up` with the new inventory first (its SSH
# client files still reach the nodes that left it, so that the deploy can retire them).
"$tool" up --inventory "$WORK/inv-three-again" --out "$lc" --helper "$CLUSTER_DEPLOY" >/dev/null 2>&1 ||
  fail "local-cluster up with ${stay[*]} failed"
run_helper 0 "$WORK/status.log" status --plan "$plan" # before the deploy: who stays, who leaves
for node in "${gone[@]}"; do
  grep -q "^members: $node (.*) is a member of etcd's group and no node of group servers: leaving" "$WORK/status.log" ||
    fail "status does not show $node leaving"
done
grep -qE "^${stay[0]} +etcd +active .* member$" "$WORK/status.log" || fail "status does not show ${stay[0]} as a member"
run_helper 0 "$WORK/in.log" deploy --plan "$plan"
members_are "${stay[0]}" "${stay[@]}" || fail "after 5 -> 3 the members are not ${stay[*]}"
grep -q "etcd: leadership moved here from $leader, which leaves" "$WORK/in.log" ||
  fail "leadership was not moved away (TRANSFER) before the leader $leader left"
for node in "${gone[@]}"; do
  grep -qE "^$node +etcd +left the group +ok" "$WORK/in.log" || fail "$node did not leave the group"
  # Where the evidence of a failed test finds it: the journal of the member LEAVE ran on.
  on_node "${stay[0]}" "sudo journalctl -q -t cluster-deploy-members | grep -q 'member etcd $node left'" ||
    fail "${stay[0]}'s journal does not say $node left"
  on_node "$node" "! systemctl is-active -q members-etcd.service" || fail "$node still runs etcd after it left"
  on_node "$node" "sudo test -d /var/lib/members/etcd/member" || fail "$node's data folder is gone"
done

# Status asks each node once: its state and, on the group's first node, the member list ride
# one round trip. Each round trip is one sudo on the node, which its journal counts (nothing
# else runs sudo on these nodes meanwhile: the writer uses curl). The window opens at the
# second after the mark, so the checks above (sudo, in the mark's second) fall outside it.
since=$(($(on_node "${stay[0]}" 'date +%s') + 1))
sleep 2
run_helper 0 "$WORK/status.log" status --plan "$plan"
sleep 1
until=$(on_node "${stay[0]}" 'date +%s')
for node in "${stay[@]}"; do
  asked=$(on_node "$node" "sudo journalctl -q -t sudo --since @$since --until @$until -o cat | grep -c 'COMMAND='") ||
    true
  [[ $asked == 1 ]] || fail "status ran $asked commands through sudo on $node (one round trip a node expected)"
done
for node in "${gone[@]}"; do
  grep -q "^members: $node (.*) left etcd's group: removed (its data stays there, in /var/lib/members/etcd)" \
    "$WORK/status.log" || fail "status does not show $node as removed"
done

plan=$(inventory one "${stay[0]}")
run_helper 2 "$WORK/refused.log" deploy --plan "$plan"
grep -q "removing 2 of the 3 members of etcd's group in one deploy would leave 1" "$WORK/refused.log" ||
  fail "removing 2 of 3 was not refused with a clear line"
members_are "${stay[0]}" "${stay[@]}" || fail "the refused deploy changed the group"

# A removed member comes back: its old data (the member the group removed) is moved aside, kept.
back=${gone[0]}
plan=$(inventory back "${stay[@]}" "$back")
run_helper 0 "$WORK/back.log" deploy --plan "$plan"
grep -q "$back: etcd: the data of an earlier membership moved aside to /var/lib/members/etcd.left-" "$WORK/back.log" ||
  fail "$back's old data was not moved aside when it joined again"
members_are "${stay[0]}" "${stay[@]}" "$back" || fail "$back did not join again"
on_node "$back" "sudo sh -c 'test -d /var/lib/members/etcd.left-*/member'" || fail "$back's old data is gone"

dead=${stay[2]}
stop_writer
start_writer "$WORK/acked3" "${stay[0]}" "${stay[1]}"
sleep 1
mkdir -p "$WORK/dead" && : >"$WORK/dead/workers.txt" && grep "^$dead:" "$WORK/all/servers.txt" >"$WORK/dead/servers.txt"
"$tool" down --inventory "$WORK/dead" --out "$WORK/lc-dead" --helper "$CLUSTER_DEPLOY" >/dev/null 2>&1 ||
  fail "cannot power $dead off"
plan=$(inventory replaced "${stay[0]}" "${stay[1]}" "$back" m6)
run_helper 0 "$WORK/replace.log" deploy --plan "$plan"
members_are "${stay[0]}" "${stay[0]}" "${stay[1]}" "$back" m6 || fail "$dead was not replaced by m6"
# The other removed member was never started again by these deploys; its data is still there.
on_node "${gone[1]}" "! systemctl is-active -q members-etcd.service && sudo test -d /var/lib/members/etcd/member" ||
  fail "${gone[1]} runs etcd again, or its data is gone"
grep -qE "^$dead +etcd +left the group +ok" "$WORK/replace.log" || fail "the dead $dead did not leave the group"
stop_writer

count=$(cat "$WORK"/acked[123] | wc -l)
((count > 20)) || fail "only $count writes were acknowledged"
for phase in 1 2 3; do
  check_acked "$WORK/acked$phase" "${stay[0]}"
done
say "ok: 3 -> 5 -> 3 (leader $leader left) -> refused 3 -> 1 -> $back back -> $dead replaced by m6;" \
  "$count acknowledged writes" \
  "all readable; longest time without a successful write: $(longest_gap "$WORK/acked1")s growing," \
  "$(longest_gap "$WORK/acked2")s shrinking, $(longest_gap "$WORK/acked3")s replacing a dead member"
