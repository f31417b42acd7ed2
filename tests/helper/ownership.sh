#!/usr/bin/env bash
# On a node, the tool owns only what it created: a folder or account named like the cluster that
# does not carry cluster-deploy's mark is refused, and nothing of it is changed or deleted, by
# deploy or by clean --purge-data. What it does create carries the mark.
source "$(dirname "$0")/lib.sh"
require_env

node=$(nodes_in_group workers | head -n 1)
for name in ownertest owneruser; do
  on_node "$node" "sudo rm -rf /opt/$name /var/lib/$name; sudo userdel $name 2>/dev/null; true"
done
trap 'for name in ownertest owneruser; do on_node "$node" "sudo rm -rf /opt/$name /var/lib/$name; sudo userdel $name 2>/dev/null; true"; done; drop_work' EXIT

# Someone else's data where the cluster "ownertest" would keep its own.
on_node "$node" "sudo mkdir -p /var/lib/ownertest && echo precious | sudo tee /var/lib/ownertest/db >/dev/null"
plan=$(plan_variant ownertest --cluster ownertest)
run_helper 2 "$WORK/deploy.log" deploy --plan "$plan" --node "$node"
grep -q "/var/lib/ownertest exists and was not created by cluster-deploy: refusing" "$WORK/deploy.log" ||
  fail "no clear refusal of a foreign /var/lib/ownertest"
run_helper 1 "$WORK/clean.log" clean --plan "$plan" --node "$node" --purge-data
grep -q "refusing to clean" "$WORK/clean.log" || fail "clean --purge-data did not refuse a foreign /var/lib/ownertest"
[[ "$(on_node "$node" "cat /var/lib/ownertest/db")" == precious ]] || fail "the foreign data was touched"
[[ "$(on_node "$node" "ls -A /var/lib/ownertest")" == db ]] || fail "something was added to the foreign folder"
on_node "$node" "! getent passwd ownertest && ! test -e /opt/ownertest" || fail "a refused deploy created the user or /opt/ownertest"

# An account of that name that we did not create.
on_node "$node" "sudo useradd --system --no-create-home --shell /usr/sbin/nologin owneruser"
plan=$(plan_variant owneruser --cluster owneruser)
run_helper 2 "$WORK/user.log" deploy --plan "$plan" --node "$node"
grep -q "user owneruser exists and was not created by cluster-deploy: refusing" "$WORK/user.log" ||
  fail "no clear refusal of a foreign user"
on_node "$node" "! test -e /opt/owneruser && ! test -e /var/lib/owneruser" || fail "a refused deploy created folders"

# What the tool did create carries its mark.
on_node "$node" "test -f /opt/$CLUSTER_DEPLOY_NAME/.cluster-deploy && test -f /var/lib/$CLUSTER_DEPLOY_NAME/.cluster-deploy" ||
  fail "/opt/$CLUSTER_DEPLOY_NAME or /var/lib/$CLUSTER_DEPLOY_NAME carries no mark"
[[ "$(on_node "$node" "getent passwd $CLUSTER_DEPLOY_NAME | cut -d: -f5")" == "cluster-deploy $CLUSTER_DEPLOY_NAME" ]] ||
  fail "the service user carries no mark"
say "ok: foreign /var/lib and user refused and untouched; ours carry the mark"
