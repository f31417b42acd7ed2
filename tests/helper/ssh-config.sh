#!/usr/bin/env bash
# The helper honours ssh_config: inventory addresses may be Host aliases, and a node
# may be reached through a ProxyCommand jump via another node.
source "$(dirname "$0")/lib.sh"
require_env
[[ -n "${CLUSTER_DEPLOY_SSH_CONFIG:-}" ]] || { say "no ssh_config of ours to vary: nothing to check"; exit 0; }

inventory=$(plan_attr 'r.get("inventory")')
mkdir -p "$WORK/aliases"
for file in "$inventory"/*.txt; do
  # name:address -> name:name (the Host alias in the ssh_config)
  sed -E 's/^([A-Za-z0-9._-]+):[^ ]+/\1:\1/' "$file" >"$WORK/aliases/${file##*/}"
done
variant=$(plan_variant aliases --inventory "$WORK/aliases")
run_helper 0 "$WORK/aliases.log" status --plan "$variant"

jump=$(nodes_in_group servers | head -n 1)
target=$(nodes_in_group workers | head -n 1)
# (libssh runs a ProxyCommand as "exec <command>": the mark and the ssh go through one sh -c.)
awk -v t="$target" -v cfg="$WORK/ssh_config" -v j="$jump" -v used="$WORK/proxy-used" -v q="'" '
  { print }
  $1 == "Host" { inside = 0; for (i = 2; i <= NF; i++) if ($i == t) inside = 1 }
  inside && $1 == "HostName" {
    print "    ProxyCommand sh -c " q "touch " used " && exec ssh -F " cfg " -W %h:%p " j q; inside = 0
  }' \
  "$CLUSTER_DEPLOY_SSH_CONFIG" >"$WORK/ssh_config"
grep -q "ProxyCommand" "$WORK/ssh_config" || fail "could not add a ProxyCommand for $target"
variant=$(plan_variant jump --ssh-config "$WORK/ssh_config")
run_helper 0 "$WORK/jump.log" status --plan "$variant" --node "$target"
grep -qE "^$target +worker +active \(running\)" "$WORK/jump.log" || fail "no status through the jump host"
# The connection really went through the jump host: the ProxyCommand ran (it marks a file), and
# the target's sshd saw a login from the jump host's address (journald on a busy node may drop or
# delay that line, so it is a warning only).
[[ -f "$WORK/proxy-used" ]] || fail "the ProxyCommand through $jump was not used"
jump_address=$(awk -v n="$jump" '$1 == n { print $2 }' "$CLUSTER_DEPLOY_NODES")
on_node "$target" "sudo journalctl -u ssh --since '-2min' --no-pager" | grep -q "Accepted publickey for .* from $jump_address " ||
  say "warning: $target's journal shows no login from $jump ($jump_address)"
say "Host aliases and a ProxyCommand jump via $jump work"
