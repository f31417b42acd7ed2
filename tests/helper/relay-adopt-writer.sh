#!/usr/bin/env bash
# A file passed on between nodes is checked by relay-adopt.sh before it counts. A process that
# still holds the inbox file open for writing (the relay account's, or anyone's) must not be able
# to change it after that check: the real relay-adopt.sh runs on a node, in a cluster of its own
# name, while a writer appends to the inbox file two seconds later; the staged file keeps the
# content that was checked.
source "$(dirname "$0")/lib.sh"
require_env

node=$(nodes_in_group workers | head -n 1)
cluster=cdtest-adopt # our own folders on the node, removed at exit
remote=$HELPER_DIR/../../tools/cluster-deploy/remote
# The script as the helper sends it: the prelude in place of its ". ./prelude.sh".
{
  cat "$remote/prelude.sh"
  sed '1,/^\. \.\/prelude\.sh$/d' "$remote/relay-adopt.sh"
} >"$WORK/relay-adopt.sh"
sha=$(printf 'what was passed on\n' | sha256sum | cut -d' ' -f1)
cleanup() { on_node "$node" "sudo rm -rf /opt/$cluster" || true; }
trap 'cleanup; drop_work' EXIT

on_node "$node" "sudo sh -c 'mkdir -p /opt/$cluster/relay/inbox /opt/$cluster/releases/.staging-r1 &&
  printf \"what was passed on\\n\" >/opt/$cluster/relay/inbox/$sha'"
# The writer: opens the inbox file now, writes after the adopt has checked it.
on_node "$node" "sudo sh -c 'nohup sh -c \"exec 3>>/opt/$cluster/relay/inbox/$sha; sleep 2; echo changed >&3\" \
  >/dev/null 2>&1 &'"
out=$(on_node "$node" "sudo sh -c $(shell_quote "$(cat "$WORK/relay-adopt.sh")") relay-adopt.sh $cluster r1 bin/prog $sha") ||
  fail "relay-adopt.sh failed on $node: $out"
[[ -z $out ]] || fail "relay-adopt.sh asked to resend: $out"
sleep 3
staged=$(on_node "$node" "sudo sha256sum /opt/$cluster/releases/.staging-r1/bin/prog | cut -d' ' -f1")
[[ $staged == "$sha" ]] || fail "the writer changed the staged file after its check ($staged, checked $sha)"
mode=$(on_node "$node" "sudo stat -c '%U %a' /opt/$cluster/releases/.staging-r1/bin/prog")
[[ $mode == "root 600" ]] || fail "the staged file is '$mode', not root's alone"
say "ok: a writer kept open on the inbox file did not change the staged file"
