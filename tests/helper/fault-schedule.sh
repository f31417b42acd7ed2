#!/usr/bin/env bash
# A seeded schedule of faults (issue 25): `fault schedule --seed N` draws the same sequence of
# kinds, lengths and nodes every time (a dry run twice, then the real run, print the same JSON
# lines), applies them one at a time on the etcd group for 60 s while a client writes, heals
# each before the next, and leaves no fault behind. No acknowledged write is lost.
source "$(dirname "$0")/lib.sh"
require_env

plan=$CLUSTER_DEPLOY_PLAN
mapfile -t servers < <(nodes_in_group servers)
trap '"$CLUSTER_DEPLOY" heal --plan "$plan" >/dev/null 2>&1 || true; stop_writer 2>/dev/null || true; drop_work' EXIT
schedule=(fault schedule --service etcd --seed 4242 --for 60 --kinds "partition,kill,pause,loss" --interval 5-15
  --plan "$plan")

"$CLUSTER_DEPLOY" "${schedule[@]}" --dry-run >"$WORK/dry1.jsonl" || fail "the dry run failed"
"$CLUSTER_DEPLOY" "${schedule[@]}" --dry-run >"$WORK/dry2.jsonl" || fail "the second dry run failed"
cmp -s "$WORK/dry1.jsonl" "$WORK/dry2.jsonl" || fail "the same seed drew two sequences: $(diff "$WORK/dry1.jsonl" "$WORK/dry2.jsonl")"
faults=$(wc -l <"$WORK/dry1.jsonl")
((faults >= 4)) || fail "60 s of 5-15 s faults drew $faults faults"

start_writer "$WORK/acked" "${servers[@]}"
started=$SECONDS
run_helper 0 "$WORK/run.jsonl" "${schedule[@]}"
took=$((SECONDS - started))
stop_writer
# run_helper keeps stderr too: the JSON lines are what starts with "{".
grep '^{' "$WORK/run.jsonl" >"$WORK/applied.jsonl" || true
cmp -s "$WORK/dry1.jsonl" "$WORK/applied.jsonl" ||
  fail "the run applied another sequence than the dry run drew: $(diff "$WORK/dry1.jsonl" "$WORK/applied.jsonl")"
((took >= 60 && took <= 120)) || fail "a 60 s schedule took $took s"

run_helper 0 "$WORK/status.log" status --plan "$plan"
if grep -E "(partition|loss|pause|kill|stop)\(" "$WORK/status.log"; then
  fail "a fault of the schedule is still on after it ended"
fi
wait_until 60 "a server still does not answer after the schedule" etcd_put "${servers[0]}" "$(unique_test_key after)" v
check_acked "$WORK/acked" "${servers[0]}"
kinds=$(python3 -c 'import json, sys; print(" ".join(json.loads(l)["kind"] for l in open(sys.argv[1])))' "$WORK/applied.jsonl")
say "ok: $faults faults in $took s ($kinds), the same as the seed's dry runs; $(wc -l <"$WORK/acked") acknowledged writes, none lost, longest gap $(longest_gap "$WORK/acked") s"
