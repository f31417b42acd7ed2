#!/usr/bin/env bash
# Preflight asks each node's own systemd about the units it is to get (issue 23): a setting
# that systemd does not know (it would silently ignore it) stops the deploy before anything
# changes, in one line naming the node, the unit, the setting and the node's systemd version,
# and only on the nodes whose systemd lacks it (StartupAllowedCPUs: systemd 249+, so Debian
# 11's 247 refuses it and Debian 12's 252 takes it).
source "$(dirname "$0")/lib.sh"
require_env

old="" new=""
for worker in $(nodes_in_group workers); do
  version=$(on_node "$worker" "systemctl --version" | awk 'NR == 1 { print $2 }')
  if ((version < 249)); then
    [[ -n $old ]] || old=$worker
  elif [[ -z $new ]]; then
    new=$worker
  fi
done
if [[ -z $old || -z $new ]]; then
  say "needs a worker with systemd older than 249 and one newer (the mixed local cluster has both): skipped"
  exit 77
fi
restore_on_exit

pinned=$(plan_variant pinned --limit worker=StartupAllowedCPUs=0)
before=$(fingerprints)
run_helper 2 "$WORK/pinned.log" deploy --plan "$pinned"
grep -qE "^$old: $CLUSTER_DEPLOY_NAME-worker\.service: Service setting StartupAllowedCPUs is unknown to this node's systemd 24[0-9]" \
  "$WORK/pinned.log" || fail "no one-line refusal of StartupAllowedCPUs naming $old and its systemd version"
refused=$(grep -c "unknown to this node's systemd" "$WORK/pinned.log")
old_count=$(grep -c "^$old: .*unknown to this node's systemd" "$WORK/pinned.log")
((refused == old_count)) || fail "nodes whose systemd knows StartupAllowedCPUs were refused too"
grep -q "nothing was changed on any node" "$WORK/pinned.log" || fail "the refusal does not say nothing changed"
[[ "$(fingerprints)" == "$before" ]] || fail "a refused deploy changed a running service"

# A node whose systemd knows the setting takes it.
run_helper 0 "$WORK/new.log" deploy --plan "$pinned" --node "$new"
on_node "$new" "grep -qx 'StartupAllowedCPUs=0' /etc/systemd/system/$CLUSTER_DEPLOY_NAME-worker.service" ||
  fail "$new: the unit does not carry StartupAllowedCPUs"

say "ok: $old's systemd refuses StartupAllowedCPUs before any change, $new's takes it"
