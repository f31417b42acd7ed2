#!/usr/bin/env bash
# A node whose host key differs from the known one is refused, and nothing on it changes.
source "$(dirname "$0")/lib.sh"
require_env
[[ -n "${CLUSTER_DEPLOY_SSH_CONFIG:-}" ]] || { say "no ssh_config of ours to tamper with: nothing to check"; exit 0; }

known=$(awk 'tolower($1) == "userknownhostsfile" { print $2; exit }' "$CLUSTER_DEPLOY_SSH_CONFIG")
[[ -r "$known" ]] || fail "cannot find the known_hosts file of $CLUSTER_DEPLOY_SSH_CONFIG"
read -r victim victim_address _ < <(awk '$3 == "servers"' "$CLUSTER_DEPLOY_NODES" | head -n 1)
read -r other other_address _ < <(awk '$3 == "servers"' "$CLUSTER_DEPLOY_NODES" | sed -n 2p)
# The victim's names now carry the other node's keys: a "changed" host key.
awk -v v="$victim_address" -v o="$other_address" '
  { split($1, names, ",") }
  names[1] == v { next }
  { print }
  names[1] == o { line = $0; sub(/^[^ ]+/, v "," "'"$victim"'", line); print line }' "$known" >"$WORK/known_hosts"
sed "s#$known#$WORK/known_hosts#" "$CLUSTER_DEPLOY_SSH_CONFIG" >"$WORK/ssh_config"
variant=$(plan_variant tampered --ssh-config "$WORK/ssh_config")

before=$(unit_fingerprint "$victim" etcd)
run_helper 2 "$WORK/deploy.log" deploy --plan "$variant" --node "$victim"
grep -q 'CHANGED' "$WORK/deploy.log" || fail "the helper did not report a changed host key"
[[ "$(unit_fingerprint "$victim" etcd)" == "$before" ]] || fail "$victim changed although its key was refused"
say "changed host key of $victim refused"
