#!/usr/bin/env bash
# A config or an ENV value may hold a secret: on a node it is never readable by others, neither
# in the release nor while a release is being staged (what an interrupted upload would leave
# behind), and an ENV value is neither in the unit file nor in `systemctl show`.
source "$(dirname "$0")/lib.sh"
require_env

node=$(nodes_in_group workers | head -n 1)
conf=/opt/$CLUSTER_DEPLOY_NAME/current/etc/worker/worker.conf
mode=$(on_node "$node" "sudo stat -L -c '%a %U:%G' $conf")
[[ "$mode" == "640 root:$CLUSTER_DEPLOY_NAME" ]] || fail "$conf is '$mode', expected 640 root:$CLUSTER_DEPLOY_NAME"

# A release whose worker config holds a secret and is 64 MiB long (comment lines), so its bytes
# are in flight long enough to watch: a watcher on the node notes the mode of every path under
# the staging folders and the folder of partly uploaded files (releases/.partial, named by
# sha256), every 50 ms, for up to 20 s.
restore_on_exit :
template=$(service_template worker)
cp "$template" "$WORK/worker.conf.in"
{
  echo "# secret=changed-by-the-secret-modes-test-$(date +%s%N)"
  (yes '# padding: the config is long so that its upload can be watched' || true) | head -c 67108864
  echo
} >>"$WORK/worker.conf.in"
changed=$(plan_variant changed --template "worker=$WORK/worker.conf.in")
releases=/opt/$CLUSTER_DEPLOY_NAME/releases
watch='for i in $(seq 400); do find '"$releases"'/.staging-* '"$releases"'/.partial -printf "%m %s %p\n" 2>/dev/null; sleep 0.05; done'
on_node "$node" "sudo sh -c $(shell_quote "$watch")" >"$WORK/staged-modes" &
watcher=$!
sleep 0.5
run_helper 0 "$WORK/changed.log" deploy --plan "$changed" --node "$node"
wait "$watcher" || true
# The staging folder itself, everything under etc/ (configs) and the partly uploaded files;
# programs and units are not secret.
grep -E '/\.staging-[^/]*$|/\.staging-[^/]*/etc(/|$)|/\.partial(/|$)' "$WORK/staged-modes" |
  awk '{print $1, $3}' | sort -u >"$WORK/modes" || true
# The config's bytes were seen arriving: a part of more than 1 MiB (only the config is that large).
looks=$(awk '$3 ~ /\/\.partial\/[0-9a-f]+$/ && $2 > 1048576 {n++} END {print n + 0}' "$WORK/staged-modes")
((looks > 0)) || fail "the watcher never saw the config's bytes arrive"
while read -r perm path; do
  ((8#$perm & 8#007)) && fail "$path was readable by others while staged (mode $perm)"
done <"$WORK/modes"
say "$(wc -l <"$WORK/modes") staged paths seen (the config arriving in $looks looks), none readable by others"
mode=$(on_node "$node" "sudo stat -L -c '%a %U:%G' $conf")
[[ "$mode" == "640 root:$CLUSTER_DEPLOY_NAME" ]] || fail "the new $conf is '$mode'"

# ENV: the service gets it; only root and the service's group can read it.
secret="s3cr3t-\$HOME-'quoted'-$(date +%s%N)"
with_env=$(plan_variant with-env --env "worker=WORKER_TOKEN=$secret")
run_helper 0 "$WORK/env.log" deploy --plan "$with_env" --node "$node"
unit=/etc/systemd/system/$CLUSTER_DEPLOY_NAME-worker.service
on_node "$node" "sudo grep -F -- 's3cr3t' $unit" && fail "the ENV value is in $unit"
on_node "$node" "sudo systemctl show $CLUSTER_DEPLOY_NAME-worker.service" | grep -F s3cr3t &&
  fail "the ENV value shows in systemctl show"
env_file=/opt/$CLUSTER_DEPLOY_NAME/current/etc/worker/cluster-deploy.env
mode=$(on_node "$node" "sudo stat -L -c '%a %U:%G' $env_file")
[[ "$mode" == "640 root:$CLUSTER_DEPLOY_NAME" ]] || fail "$env_file is '$mode', expected 640 root:$CLUSTER_DEPLOY_NAME"
pid=$(on_node "$node" "systemctl show -p MainPID --value $CLUSTER_DEPLOY_NAME-worker.service")
seen=$(on_node "$node" "sudo cat /proc/$pid/environ" | tr '\0' '\n' | sed -n 's/^WORKER_TOKEN=//p')
[[ "$seen" == "$secret" ]] || fail "the service sees WORKER_TOKEN='$seen', expected '$secret'"
say "ok: configs and ENV 640 root:$CLUSTER_DEPLOY_NAME in the release, ENV not in the unit, nothing readable by others while staged"
