#!/usr/bin/env bash
# --json: `status --json | python3 -m json.tool` works and shows what systemd and the nodes
# show; the dry run lists per node what it would send and restart; the deploy summary says
# nothing changed. Only stdout is JSON (progress stays on stderr).
source "$(dirname "$0")/lib.sh"
require_env

"$CLUSTER_DEPLOY" status --plan "$CLUSTER_DEPLOY_PLAN" --json 2>"$WORK/status.err" | python3 -m json.tool >"$WORK/status.json" ||
  fail "status --json | python3 -m json.tool failed: $(cat "$WORK/status.err")"
json 'd["command"], d["cluster"], d["ok"]' <"$WORK/status.json" | grep -qx "\[\"status\", \"$CLUSTER_DEPLOY_NAME\", true\]" ||
  fail "status --json header: $(head -c 300 "$WORK/status.json")"
# The document says which helper wrote it, as --version does.
version=$("$CLUSTER_DEPLOY" --version) || fail "cluster-deploy --version failed"
[[ $version =~ ^cluster-deploy\ [0-9]+\.[0-9]+\.[0-9]+$ ]] || fail "--version printed '$version'"
[[ "cluster-deploy $(json 'd["version"]' <"$WORK/status.json")" == "$version" ]] ||
  fail "status --json has version $(json 'd.get("version")' <"$WORK/status.json"), --version says '$version'"
[[ $(json 'len(d["nodes"])' <"$WORK/status.json") -eq $(all_nodes | wc -l) ]] || fail "status --json does not list every node"
while read -r node group; do
  service=$([[ $group == servers ]] && echo etcd || echo worker)
  release=$(on_node "$node" "readlink /opt/$CLUSTER_DEPLOY_NAME/current")
  pid=$(on_node "$node" "systemctl show -p MainPID --value $CLUSTER_DEPLOY_NAME-$service.service")
  row=$(json "[n for n in d['nodes'] if n['name'] == '$node'][0]" <"$WORK/status.json")
  [[ $(json '[d["group"], d["reachable"], d["release"], d["drift"]]' <<<"$row") == "[\"$group\", true, \"${release##*/}\", []]" ]] ||
    fail "$node: status --json node fields are wrong: $row"
  [[ $(json '[(s["name"], s["running"], s["active"], s["sub"], s["result"], s["pid"]) for s in d["services"]]' <<<"$row") == \
     "[[\"$service\", true, \"active\", \"running\", \"success\", $pid]]" ]] ||
    fail "$node: status --json service fields disagree with systemd (MainPID $pid): $row"
done < <(all_nodes)

# The dry run of an unchanged cluster: every node reachable, nothing to send or restart.
"$CLUSTER_DEPLOY" deploy --dry-run --json --plan "$CLUSTER_DEPLOY_PLAN" >"$WORK/dry.json" 2>"$WORK/dry.err" ||
  fail "deploy --dry-run --json failed: $(cat "$WORK/dry.err")"
[[ $(json '[d["dry_run"], d["ok"], sorted(n["name"] for n in d["nodes"])]' <"$WORK/dry.json") == \
   "[true, true, $(all_nodes | awk '{print $1}' | sort | python3 -c 'import json,sys; print(json.dumps(sys.stdin.read().split()))')]" ]] ||
  fail "dry run JSON header/nodes wrong: $(head -c 300 "$WORK/dry.json")"
[[ $(json '[n for n in d["nodes"] if n["changed"] or n["send"] or n["restart"] or not n["reachable"]]' <"$WORK/dry.json") == "[]" ]] ||
  fail "dry run of an unchanged cluster wants changes: $(cat "$WORK/dry.json")"

# A changed worker config template: the dry run names each worker's config and restart only.
template=$(service_template worker)
cp "$template" "$WORK/worker.conf.in"
echo "# changed by the json-output test" >>"$WORK/worker.conf.in"
variant=$(plan_variant json-config --template "worker=$WORK/worker.conf.in")
"$CLUSTER_DEPLOY" deploy --dry-run --json --plan "$variant" >"$WORK/dry2.json" 2>"$WORK/dry2.err" ||
  fail "deploy --dry-run --json of a changed plan failed: $(cat "$WORK/dry2.err")"
while read -r node group; do
  expected='[false, [], []]'
  [[ $group == workers ]] && expected='[true, ["etc/worker/worker.conf"], ["worker"]]'
  [[ $(json "[(n['changed'], [f['path'] for f in n['send']], n['restart']) for n in d['nodes'] if n['name'] == '$node'][0]" <"$WORK/dry2.json") == "$expected" ]] ||
    fail "$node: dry run of a worker config change, expected $expected: $(cat "$WORK/dry2.json")"
done < <(all_nodes)

"$CLUSTER_DEPLOY" deploy --json --plan "$CLUSTER_DEPLOY_PLAN" >"$WORK/deploy.json" 2>"$WORK/deploy.err" ||
  fail "deploy --json failed: $(cat "$WORK/deploy.err")"
[[ $(json '[d["command"], d["ok"], d["changed"], sorted(set(r["action"] for r in d["results"]))]' <"$WORK/deploy.json") == \
   '["deploy", true, false, ["unchanged"]]' ]] || fail "deploy --json summary: $(cat "$WORK/deploy.json")"
say "status, dry run and summary JSON match the nodes"
