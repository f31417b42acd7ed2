#!/usr/bin/env bash
# A config may hold a secret: on a node it is never readable by others, neither in the release
# nor while a release is being staged (what an interrupted upload would leave behind).
source "$(dirname "$0")/lib.sh"
require_env

node=$(nodes_in_group workers | head -n 1)
conf=/opt/$CLUSTER_DEPLOY_NAME/current/etc/worker/worker.conf
mode=$(on_node "$node" "sudo stat -L -c '%a %U:%G' $conf")
[[ "$mode" == "640 root:$CLUSTER_DEPLOY_NAME" ]] || fail "$conf is '$mode', expected 640 root:$CLUSTER_DEPLOY_NAME"

# A release with a changed config and a 64 MiB program (the worker with zeros appended: it still
# runs), so staging lasts long enough to watch: a watcher on the node notes the mode of every
# staged path it sees, every 50 ms, for up to 20 s.
template=$(plan_attr 'r.find("service[@name=\"worker\"]/config").get("template")')
program=$(plan_attr 'r.find("service[@name=\"worker\"]/program").text')
cp "$template" "$WORK/worker.conf.in"
echo "# secret=changed-by-the-secret-modes-test-$(date +%s%N)" >>"$WORK/worker.conf.in"
mkdir -p "$WORK/bin"
cp "$program" "$WORK/bin/$(basename "$program")"
head -c 67108864 /dev/zero >>"$WORK/bin/$(basename "$program")"
changed=$(plan_variant changed --template "worker=$WORK/worker.conf.in" --program "worker=$WORK/bin/$(basename "$program")")
watch='for i in $(seq 400); do find /opt/'"$CLUSTER_DEPLOY_NAME"'/releases/.staging-* -printf "%m %p\n" 2>/dev/null; sleep 0.05; done'
on_node "$node" "sudo sh -c $(shell_quote "$watch")" >"$WORK/staged-modes" &
watcher=$!
sleep 0.5
run_helper 0 "$WORK/changed.log" deploy --plan "$changed" --node "$node"
wait "$watcher" || true
# The staging folder itself and everything under etc/ (configs); programs and units are not secret.
grep -E '/\.staging-[^/]*$|/\.staging-[^/]*/etc(/|$)' "$WORK/staged-modes" | sort -u >"$WORK/modes" || true
grep -q "/etc/worker/worker.conf" "$WORK/modes" || fail "the watcher never saw the config staged"
while read -r perm path; do
  ((8#$perm & 8#007)) && fail "$path was readable by others while staged (mode $perm)"
done <"$WORK/modes"
say "$(wc -l <"$WORK/modes") staged paths seen, none readable by others"
mode=$(on_node "$node" "sudo stat -L -c '%a %U:%G' $conf")
[[ "$mode" == "640 root:$CLUSTER_DEPLOY_NAME" ]] || fail "the new $conf is '$mode'"
run_helper 0 "$WORK/restore.log" deploy --plan "$CLUSTER_DEPLOY_PLAN" --node "$node"
say "ok: configs 640 root:$CLUSTER_DEPLOY_NAME in the release, nothing readable by others while staged"
