#!/usr/bin/env bash
# A second deploy with nothing changed sends no file and restarts nothing: as the
# helper reports it, and as systemd's own MainPID and NRestarts show it. It reads each node
# once and takes no lock (none to give back): its audit says so.
source "$(dirname "$0")/lib.sh"
require_env

before=$(fingerprints)
run_helper 0 "$WORK/deploy.log" deploy --plan "$CLUSTER_DEPLOY_PLAN" --junit "$WORK/deploy.xml"
grep -q '^nothing changed on any node$' "$WORK/deploy.log" || fail "the helper did not say nothing changed"
if grep -E 'send [0-9]+ files' "$WORK/deploy.log"; then fail "files were sent"; fi
if grep -E '(restarted|started)' "$WORK/deploy.log"; then fail "something was (re)started"; fi
after=$(fingerprints)
[[ "$before" == "$after" ]] || fail "systemd shows restarts: before [$before] after [$after]"
services=$(echo "$after" | wc -l)
report=$(python3 -c 'import sys, xml.etree.ElementTree as ET; s = ET.parse(sys.argv[1]).getroot(); print(s.get("tests"), s.get("failures"))' "$WORK/deploy.xml")
[[ "$report" == "$services 0" ]] || fail "JUnit report says '$report' (tests failures), expected '$services 0'"

# The run is in the build tree's audit: `runs` lists it last, `runs --run` shows its steps per node.
run_helper 0 "$WORK/runs.log" runs --plan "$CLUSTER_DEPLOY_PLAN" --last 1
run=$(awk '$2 == "deploy" && $5 == "exit" && $6 == 0 { print $3 }' "$WORK/runs.log")
[[ -n $run ]] || fail "runs does not show the deploy that just ended"
run_helper 0 "$WORK/steps.log" runs --plan "$CLUSTER_DEPLOY_PLAN" --run "$run"
while read -r node _; do
  grep -qE "^ *\+[0-9.]+s +[0-9.]+s  $node +reading the node, its lock not taken +ok$" "$WORK/steps.log" ||
    fail "the audit of $run does not show $node read once"
  if grep -E "  $node +(taking|giving) the lock" "$WORK/steps.log"; then
    fail "the unchanged deploy took $node's lock"
  fi
done < <(all_nodes)
say "nothing sent, nothing restarted on $(echo "$after" | wc -l) services, no lock taken; the run is in the audit"
