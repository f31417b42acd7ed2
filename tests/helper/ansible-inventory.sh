#!/usr/bin/env bash
# Ansible interop on the local cluster: an Ansible INI copy of the inventory (hosts with
# ansible_host, group vars, parent groups, ansible_* settings we ignore) deploys as the
# same cluster (nothing changes: same nodes, same rendered files); our inventory exported
# with `inventory --export ansible` is read by ansible-inventory with the same hosts,
# groups, addresses and variables (skipped, exit 77, when ansible-inventory is missing).
source "$(dirname "$0")/lib.sh"
require_env

inventory=$(plan_attr 'r.get("inventory")')
{
  echo "# Ansible copy of $inventory, as a team that uses Ansible would keep it"
  for file in "$inventory"/*.txt; do
    echo "[$(basename "$file" .txt)]"
    sed -e 's/#.*//' -e '/^[[:space:]]*$/d' -e 's/^\([^:]*\):\([^ ]*\)/\1 ansible_host=\2/' "$file"
    echo
  done
  echo "[$CLUSTER_DEPLOY_NAME:children]"
  for file in "$inventory"/*.txt; do basename "$file" .txt; done
  echo
  echo "[all:vars]"
  echo "ansible_python_interpreter=/usr/bin/python3"
} >"$WORK/hosts.ini"
sed 's/^/    | /' "$WORK/hosts.ini"

variant=$(plan_variant ansible --inventory "$WORK/hosts.ini")
before=$(fingerprints)
run_helper 0 "$WORK/deploy.log" deploy --plan "$variant"
grep -q '^nothing changed on any node$' "$WORK/deploy.log" ||
  fail "a deploy from the Ansible copy of the inventory changed something (it should be the same cluster)"
[[ "$(fingerprints)" == "$before" ]] || fail "systemd shows restarts after the deploy from the Ansible inventory"
run_helper 0 "$WORK/nodes.log" status --plan "$variant"
while read -r node group; do
  grep -qE "^$node +" "$WORK/nodes.log" || fail "status from the Ansible inventory lacks $node"
done < <(all_nodes)

"$CLUSTER_DEPLOY" inventory --export ansible --plan "$CLUSTER_DEPLOY_PLAN" >"$WORK/export.ini" 2>"$WORK/export.err" ||
  fail "inventory --export ansible failed: $(cat "$WORK/export.err")"
sed 's/^/    | /' "$WORK/export.ini"
if ! command -v ansible-inventory >/dev/null; then
  say "SKIP: ansible-inventory is not installed (Debian package ansible-core); the import part passed"
  exit 77
fi
# No state of ansible's left behind in the real home.
HOME=$WORK ANSIBLE_LOCAL_TEMP=$WORK/ansible-tmp ansible-inventory -i "$WORK/export.ini" --list >"$WORK/ansible.json" 2>"$WORK/ansible.err" ||
  fail "ansible-inventory cannot read the export: $(cat "$WORK/ansible.err")"
if grep -i 'warning' "$WORK/ansible.err"; then fail "ansible-inventory warns about the export"; fi
while read -r node group; do
  address=$(awk -v n="$node" '$1 == n { print $2 }' "$CLUSTER_DEPLOY_NODES")
  [[ $(json "d['_meta']['hostvars']['$node']['ansible_host']" <"$WORK/ansible.json") == "$address" ]] ||
    fail "ansible-inventory: $node has not ansible_host $address"
  json "'$node' in d['$group']['hosts'] and '$group' in d['${CLUSTER_DEPLOY_NAME//-/_}']['children']" <"$WORK/ansible.json" |
    grep -qx true || fail "ansible-inventory: $node is not in group $group under ${CLUSTER_DEPLOY_NAME//-/_}"
done < <(all_nodes)
worker=$(nodes_in_group workers | head -n 1)
shard=$(grep -E "^$worker:" "$inventory/workers.txt" | sed 's/.*shard=\([0-9]*\).*/\1/')
[[ $(json "d['_meta']['hostvars']['$worker']['shard']" <"$WORK/ansible.json") == "$shard" ]] ||
  fail "ansible-inventory: $worker's shard is not $shard"
[[ $(json "d['_meta']['hostvars']['$worker']['ansible_ssh_common_args']" <"$WORK/ansible.json") == "-F '$CLUSTER_DEPLOY_SSH_CONFIG'" ]] ||
  fail "ansible-inventory: the ssh_config is not passed to ssh"
say "the Ansible copy deploys the same cluster; ansible-inventory reads the export"
