#!/usr/bin/env bash
# A program built on the controller (Debian 12, glibc 2.36) and a node of an older release
# (Debian 11, glibc 2.31; issue 23): without BUNDLE_LIBS ALL, preflight refuses it before
# anything changes, in one line naming the missing GLIBC_2.xx and the option; with it (the
# example's setting), the worker runs there, on the libc and loader shipped with it.
source "$(dirname "$0")/lib.sh"
require_env

program=$(service_program worker)
name=$(basename "$program")
old=""
for worker in $(nodes_in_group workers); do
  if ! on_node "$worker" "ldd --version | head -n 1" | grep -qE ' 2\.(3[4-9]|[4-9][0-9])$'; then
    old=$worker
    break
  fi
done
if [[ -z $old ]]; then
  say "every worker has glibc 2.34 or later (no bullseye node in the inventory): nothing to show"
  exit 77
fi
node_glibc=$(on_node "$old" "ldd --version | head -n 1" | awk '{ print $NF }')

# 1. Without the option: refused by preflight, one line, nothing changed.
plain=$(plan_variant plain --bundle-libs worker=none)
before=$(fingerprints)
run_helper 2 "$WORK/plain.log" deploy --plan "$plain" --node "$old"
line=$(grep -E "^$old: .*bin/$name cannot run on this node: it needs [^;]*GLIBC_2\.3[4-9]" "$WORK/plain.log") ||
  fail "no refusal naming $old, bin/$name and a GLIBC_2.3x version its glibc $node_glibc lacks"
[[ $line == *"BUNDLE_LIBS ALL ships glibc and its loader with the program"* ]] ||
  fail "the refusal does not name BUNDLE_LIBS ALL: $line"
[[ $(grep -c "^$old: " "$WORK/plain.log") == 1 ]] || fail "the refusal of $old is not one line"
[[ "$(fingerprints)" == "$before" ]] || fail "a refused deploy changed a running service"

# 2. With it (the plan's own): the worker runs on the old node from the shipped loader and libc.
run_helper 0 "$WORK/all.log" deploy --plan "$CLUSTER_DEPLOY_PLAN" --node "$old"
pid=$(on_node "$old" "systemctl show -P MainPID $CLUSTER_DEPLOY_NAME-worker.service")
[[ $pid =~ ^[1-9][0-9]*$ ]] || fail "$old: the worker is not running (MainPID '$pid')"
maps=$(on_node "$old" "sudo cat /proc/$pid/maps")
grep -qE "/opt/$CLUSTER_DEPLOY_NAME/releases/[0-9a-f]+/lib/worker/ld-linux[^/]*\.so\.2$" <<<"$maps" ||
  fail "$old: the worker was not started by the shipped loader"
grep -qE "/opt/$CLUSTER_DEPLOY_NAME/releases/[0-9a-f]+/lib/worker/libc\.so\.6$" <<<"$maps" ||
  fail "$old: the worker does not run on the shipped libc"
! grep -qE " /(usr/)?lib/x86_64-linux-gnu/libc\.so\.6$" <<<"$maps" || fail "$old: the worker mapped the node's own libc"
on_node "$old" "sudo test -s /var/lib/$CLUSTER_DEPLOY_NAME/worker/registered" ||
  fail "$old: the worker runs but did not register in etcd"

say "ok: $old (glibc $node_glibc) refuses the plain worker naming BUNDLE_LIBS ALL, and runs it with its own glibc and loader"
