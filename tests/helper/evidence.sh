#!/usr/bin/env bash
# A cluster test that fails leaves its evidence: the example's partition test is made to fail on
# purpose while its partition is on (CLUSTER_DEPLOY_EXAMPLE_FAIL), through ctest as a user runs
# it, then made to hang past its deadline, then killed the way CTest's own TIMEOUT kills. Each
# time the folder holds every node's journal of the window, the fault with its node and times, a
# summary naming the test and the fault, and a timeline.html that headless Chromium renders with
# a row per node, the fault bar and the client's operations, loading nothing from the network.
# A passing test writes nothing.
source "$(dirname "$0")/lib.sh"
require_env
require_faults

build=$(dirname "$(dirname "$CLUSTER_DEPLOY_PLAN")")
evidence=$build/cluster-deploy/evidence
test=example.fault-partition
script=$(cd "$HELPER_DIR/../../examples/etcd-workers/tests" && pwd)/fault-partition.sh
mkdir -p "$evidence/$test"
before=$(ls "$evidence/$test")
# Our deliberate failures are not the user's: remove the folders this test made.
forget_our_evidence() {
  local dir
  for dir in "$evidence/$test"/2*; do
    [[ -d $dir ]] && ! grep -qx "${dir##*/}" <<<"$before" && rm -rf "$dir"
  done
  local left=("$evidence/$test"/2*)
  newest=${left[-1]}
  if [[ -d $newest ]]; then ln -sfn "${newest##*/}" "$evidence/$test/latest"; else rm -rf "${evidence:?}/$test"; fi
  "$CLUSTER_DEPLOY" heal --plan "$CLUSTER_DEPLOY_PLAN" >/dev/null || true
}
trap 'forget_our_evidence; drop_work' EXIT

# check_folder <dir> <what the summary's result says>: what every evidence folder must hold.
check_folder() {
  local dir=$1 result=$2 node group since until isolated
  [[ -f $dir/summary.txt ]] || fail "no summary.txt in $dir"
  grep -qx "test: $test" "$dir/summary.txt" || fail "summary.txt does not name the test: $(head -3 "$dir/summary.txt")"
  grep -q "^result: $result" "$dir/summary.txt" || fail "summary.txt does not say '$result'"
  isolated=$(sed -n 's/^fault-partition: cut off \([^;]*\);.*/\1/p' "$dir/test-output.txt")
  [[ -n $isolated ]] || fail "test-output.txt lacks the test's own lines"
  # The fault, with its node and times, machine-readable and in the summary.
  python3 -c 'import json, sys
faults = [json.loads(line) for line in open(sys.argv[1])]
sys.exit(0 if any(f["node"] == sys.argv[2] and f["kind"] == "partition" and f["start"] for f in faults) else 1)' \
    "$dir/faults.jsonl" "$isolated" || fail "faults.jsonl has no partition on $isolated: $(cat "$dir/faults.jsonl")"
  grep -qE "^  $isolated +partition f[0-9]+ +[0-9:.]+ \.\. .*from " "$dir/summary.txt" ||
    fail "summary.txt does not list the partition of $isolated"
  since=$(sed -n 's/^window: \([^ ]*\) .. .*/\1/p' "$dir/summary.txt")
  until=$(sed -n 's/^window: [^ ]* .. \([^ ]*\) .*/\1/p' "$dir/summary.txt")
  # Every node's journal, with its service's lines from inside the window (the workers log
  # every 3 s: theirs must reach both ends of it).
  while read -r node group; do
    local journal=$dir/nodes/$node/journal.txt ident=etcd
    [[ $group == workers ]] && ident=example-worker
    [[ -s $journal ]] || fail "$node: no journal in the evidence"
    awk -v s="$since" -v u="$until" -v id="${ident}[" 'index($2, id) == 1 && $1 >= s && $1 <= u { n++ } END { exit !n }' \
      "$journal" || fail "$node: the journal has no $ident line inside the window $since .. $until"
    grep -q "cluster-deploy-$CLUSTER_DEPLOY_NAME\[[0-9]*\]: fault f[0-9]* partition" "$journal" ||
      fail "$node: the fault's own line is not in its journal"
    if [[ $group == workers ]]; then
      python3 - "$journal" "$since" "$until" <<'EOF' || fail "$node: the journal does not cover the window"
import sys, datetime as dt
t = lambda s: dt.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()
lines = [l.split()[0] for l in open(sys.argv[1]) if " example-worker[" in l]
sys.exit(0 if lines and t(lines[0]) - t(sys.argv[2]) < 8 and t(sys.argv[3]) - t(lines[-1]) < 8 else 1)
EOF
    fi
  done < <(all_nodes)
  [[ -z $(find "$dir" -perm /077) ]] || fail "evidence readable by others: $(find "$dir" -perm /077 | head -3)"
  ISOLATED=$isolated
}

# 1. A failure through ctest, as a user or CI runs it, with a JUnit report.
say "failing $test on purpose while its partition is on"
if CLUSTER_DEPLOY_EXAMPLE_FAIL=fail ctest --test-dir "$build" -R "^$test\$" -FA '.*' \
  --output-junit "$WORK/junit.xml" >"$WORK/ctest.log" 2>&1; then
  fail "the test passed although asked to fail"
fi
dir=$(readlink -f "$evidence/$test/latest")
grep -qx "${dir##*/}" <<<"$before" && fail "no new evidence folder: $(tail -5 "$WORK/ctest.log")"
check_folder "$dir" "failed (exit 1)"
grep -q "\[\[ATTACHMENT|$dir/summary.txt\]\]" "$WORK/junit.xml" || fail "the JUnit report carries no attachment line"
grep -q "\[\[ATTACHMENT|$dir/timeline.html\]\]" "$WORK/junit.xml" || fail "the JUnit report does not attach timeline.html"
"$CLUSTER_DEPLOY" heal --plan "$CLUSTER_DEPLOY_PLAN" >/dev/null

# 2. The page, in a real browser with no network at all (its own namespace): a row per node,
# the fault bar on the isolated node, the client's operations; and no request of its own.
chromium_page() { # <page> <chromium options...>
  local page=$1
  shift
  timeout 120 unshare --net chromium --headless --no-sandbox --disable-gpu --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync --no-pings \
    --user-data-dir="$WORK/chromium" --log-net-log="$WORK/net.json" "$@" "file://$page" 2>/dev/null
}
chromium_page "$dir/timeline.html" --dump-dom >"$WORK/dom.html" || fail "chromium could not open timeline.html"
while read -r node group; do
  grep -q "class=\"row node\" data-node=\"$node\"" "$WORK/dom.html" || fail "timeline.html has no row for $node"
done < <(all_nodes)
python3 - "$WORK/dom.html" "$ISOLATED" <<'EOF' || fail "timeline.html has no partition bar in the row of $ISOLATED"
import re, sys
row = re.search(r'data-node="%s">(.*?)</div></div>\n' % re.escape(sys.argv[2]), open(sys.argv[1]).read(), re.S)
sys.exit(0 if row and 'class="fault partition"' in row.group(1) else 1)
EOF
grep -q 'class="op ok"' "$WORK/dom.html" || fail "timeline.html shows no operation of the test's client"
requests=$(python3 "$HELPER_DIR/page_check.py" requests "$WORK/net.json")
[[ -z $requests ]] || fail "timeline.html asked the network for: $requests"
# The check sees a page that does ask (a documentation address, and no network to reach it).
echo '<img src="http://192.0.2.1/x.png">' >"$WORK/asks.html"
chromium_page "$WORK/asks.html" --dump-dom >/dev/null || true
[[ -n $(python3 "$HELPER_DIR/page_check.py" requests "$WORK/net.json") ]] ||
  fail "the request check does not see a page's own request"
chromium_page "$dir/timeline.html" --screenshot="$WORK/timeline.png" --window-size=1400,560 >/dev/null ||
  fail "no screenshot"
red=$(python3 "$HELPER_DIR/page_check.py" pixels "$WORK/timeline.png" 221 97 92 20)
((red > 2000)) || fail "the screenshot shows no fault bar ($red pixels of its colour)"
cp "$WORK/timeline.png" "$dir/timeline.png"
say "timeline.html: a row per node, the fault bar on $ISOLATED ($red pixels), no request of its own"

# 3. A test that hangs is stopped at its deadline and still leaves its evidence. (CTest sets
# the deadline from the test's TIMEOUT; 25 s here instead of the test's 300.)
say "making $test hang past a 25 s deadline"
status=0
CLUSTER_DEPLOY_EXAMPLE_FAIL=hang CLUSTER_DEPLOY_TEST_DEADLINE=25 "$CLUSTER_DEPLOY" run-test \
  --plan "$CLUSTER_DEPLOY_PLAN" --name "$test" -- bash "$script" >"$WORK/hang.log" 2>&1 || status=$?
((status == 124)) || fail "a test stopped at its deadline exits $status, not 124: $(tail -3 "$WORK/hang.log")"
grep -q "^\[\[ATTACHMENT|.*/summary.txt\]\]$" "$WORK/hang.log" || fail "no attachment lines after the deadline"
check_folder "$(readlink -f "$evidence/$test/latest")" "timed out after 25 s"
"$CLUSTER_DEPLOY" heal --plan "$CLUSTER_DEPLOY_PLAN" >/dev/null

# 4. Killed with no chance to collect (CTest's own TIMEOUT kills with SIGKILL): the cleanup
# fixture's `collect --pending` writes the folder.
say "killing a hanging $test with SIGKILL"
CLUSTER_DEPLOY_EXAMPLE_FAIL=hang "$CLUSTER_DEPLOY" run-test --plan "$CLUSTER_DEPLOY_PLAN" --name "$test" \
  -- bash "$script" >"$WORK/killed.log" 2>&1 &
runner=$!
wait_until 60 "the test did not reach its hang" grep -q "hanging on purpose" "$WORK/killed.log"
kill -KILL "$runner"
wait "$runner" 2>/dev/null || true
wait_until 10 "the killed test's script is still running" \
  bash -c "! pgrep -f '^bash $script' >/dev/null"
[[ -d $evidence/.running/$test ]] || fail "a killed test left no marker"
"$CLUSTER_DEPLOY" collect --plan "$CLUSTER_DEPLOY_PLAN" --pending >"$WORK/pending.log" 2>&1 ||
  fail "collect --pending failed: $(cat "$WORK/pending.log")"
[[ ! -d $evidence/.running/$test ]] || fail "collect --pending left the marker"
check_folder "$(readlink -f "$evidence/$test/latest")" "killed before it could collect"
"$CLUSTER_DEPLOY" heal --plan "$CLUSTER_DEPLOY_PLAN" >/dev/null

# 5. A passing test writes nothing.
count=$(find "$evidence" -mindepth 1 | wc -l)
ctest --test-dir "$build" -R '^example\.raft-members$' -FA '.*' >"$WORK/pass.log" 2>&1 ||
  fail "example.raft-members failed: $(tail -5 "$WORK/pass.log")"
(($(find "$evidence" -mindepth 1 | wc -l) == count)) || fail "a passing test wrote evidence"
say "ok: failed, timed-out and killed tests left their evidence; a passing one wrote nothing"

# 6. A run of the window comes with its steps (runs/<run>.jsonl): a deploy of the plan (nothing
# to change), then the evidence of the time since.
since=$(date +%s)
run_helper 0 "$WORK/deploy.log" deploy --plan "$CLUSTER_DEPLOY_PLAN"
"$CLUSTER_DEPLOY" collect --plan "$CLUSTER_DEPLOY_PLAN" --since "$since" --out "$WORK/window" >"$WORK/collect.log" 2>&1 ||
  fail "collect failed: $(cat "$WORK/collect.log")"
run=$(python3 -c 'import json, sys; print(json.loads(open(sys.argv[1]).readlines()[-1])["run"])' "$WORK/window/runs.jsonl") ||
  fail "the evidence's runs.jsonl has no run: $(cat "$WORK/window/runs.jsonl")"
grep -q '"step"' "$WORK/window/runs/$run.jsonl" 2>/dev/null ||
  fail "the evidence holds no steps of run $run: $(ls "$WORK/window")"
say "ok: the evidence of a window holds its runs' steps ($(wc -l <"$WORK/window/runs/$run.jsonl") of run $run)"
