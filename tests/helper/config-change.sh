#!/usr/bin/env bash
# A changed worker config is sent alone and restarts only the workers; etcd keeps running.
# Going back to the old config reuses the release still on the nodes (nothing sent).
source "$(dirname "$0")/lib.sh"
require_env

template=$(service_template worker)
cp "$template" "$WORK/worker.conf.in"
echo "# changed by the config-change test $(date +%s%N)" >>"$WORK/worker.conf.in"
changed=$(plan_variant changed --template "worker=$WORK/worker.conf.in")
original=$(plan_variant original)

before=$(fingerprints)
run_helper 0 "$WORK/dry-run.log" deploy --plan "$changed" --dry-run
grep -qE '^worker[0-9]*: would deploy: release [0-9a-f]+: send 1 files .*restart worker$' "$WORK/dry-run.log" ||
  fail "the dry run does not say it would send the worker config"
grep -qE '^server[0-9]*: would deploy: unchanged' "$WORK/dry-run.log" || fail "the dry run does not say servers are unchanged"
[[ "$(fingerprints)" == "$before" ]] || fail "the dry run changed something"
# A file the change reuses but which was edited on the node since it was deployed is sent
# again, not reused (the other workers' files are reused as their stat record says).
edited=$(nodes_in_group workers | head -n 1)
old_release=$(on_node "$edited" "readlink -f /opt/$CLUSTER_DEPLOY_NAME/current")
unit_copy=$old_release/units/$CLUSTER_DEPLOY_NAME-worker.service
on_node "$edited" "sudo cp -p $unit_copy /tmp/unit.saved && echo '# edited by hand' | sudo tee -a $unit_copy >/dev/null"
run_helper 0 "$WORK/changed.log" deploy --plan "$changed"
on_node "$edited" "sudo cp -p /tmp/unit.saved $unit_copy && sudo rm /tmp/unit.saved"
grep -q "^$edited: units/$CLUSTER_DEPLOY_NAME-worker.service on the node is not what was deployed: sending it again$" \
  "$WORK/changed.log" || fail "$edited: the unit's copy edited on the node was not sent again"
if grep -E "^worker[0-9]*: .* on the node is not what was deployed" "$WORK/changed.log" | grep -v "^$edited: "; then
  fail "a worker whose files were not edited was sent some again"
fi
after=$(fingerprints)
while read -r node service pid restarts; do
  old_pid=$(awk -v n="$node" '$1 == n { print $3 }' <<<"$before")
  action=$(summary_action "$WORK/changed.log" "$node" "$service")
  case $service in
    etcd)
      [[ "$action" == unchanged ]] || fail "$node: etcd was '$action', expected unchanged"
      [[ "$pid" == "$old_pid" ]] || fail "$node: etcd's MainPID changed ($old_pid -> $pid)"
      ;;
    worker)
      [[ "$action" == restarted ]] || fail "$node: worker was '$action', expected restarted"
      [[ "$pid" != "$old_pid" ]] || fail "$node: worker's MainPID did not change"
      ;;
  esac
done <<<"$after"
grep -qE 'worker[0-9]*: release [0-9a-f]+: send 1 files' "$WORK/changed.log" || fail "workers were not sent exactly one file"
# A config change brings no program and no unit: the nodes are not asked in a preflight round trip.
run_helper 0 "$WORK/runs.log" runs --plan "$changed" --last 1
run=$(awk '$2 == "deploy" && $5 == "exit" && $6 == 0 { print $3 }' "$WORK/runs.log")
[[ -n $run ]] || fail "runs does not show the config change's deploy"
run_helper 0 "$WORK/steps.log" runs --plan "$changed" --run "$run"
grep -qE "staging|seal" "$WORK/steps.log" || fail "the config change's steps show no staging: $(head -c 600 "$WORK/steps.log")"
if grep -E "preflight" "$WORK/steps.log"; then
  fail "the config change asked the nodes in a preflight round trip"
fi

worker=$(nodes_in_group workers | head -n 1)
current=$(on_node "$worker" "readlink /opt/$CLUSTER_DEPLOY_NAME/current")
on_node "$worker" "tail -n 1 /opt/$CLUSTER_DEPLOY_NAME/deploy.log" | grep -qE "^[0-9T:Z-]+ [0-9a-f]+ -> ${current##*/} deploy run=r[0-9]+$" ||
  fail "$worker's deploy.log does not record the switch to ${current##*/}"

run_helper 0 "$WORK/back.log" deploy --plan "$original"
grep -q 'already on the node' "$WORK/back.log" || fail "going back did not reuse the old release"
say "config change restarted only the workers; going back reused the old release"
