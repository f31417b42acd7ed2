#!/usr/bin/env bash
# LIMITS MemoryMax: a service that needs more memory than its limit is killed by the
# kernel, and `status` says so (result oom-kill, in the table and in --json), although
# Restart=always starts it again. Skipped (exit 77) where the nodes' systemd cannot
# enforce memory limits: the nodes need the cgroup v2 memory controller (a host booted
# with systemd and the unified hierarchy); on a cgroup v1/hybrid host nspawn gives the
# nodes a read-only memory hierarchy and MemoryMax is not enforced.
source "$(dirname "$0")/lib.sh"
require_env

node=$(nodes_in_group workers | head -n 1)
if ! on_node "$node" "grep -qw memory /sys/fs/cgroup/cgroup.controllers 2>/dev/null"; then
  say "SKIP: $node has no cgroup v2 memory controller (host cgroups: $(stat -fc %T /sys/fs/cgroup)); MemoryMax cannot be enforced"
  exit 77
fi
cluster=cdoom
printf '#!/bin/sh\n# needs a 64 MiB buffer, more than MemoryMax\nexec dd if=/dev/zero of=/dev/null bs=64M count=4\n' >"$WORK/hog"
chmod +x "$WORK/hog"
plan=$(plan_variant oom --cluster $cluster --only worker --program "worker=$WORK/hog" --health-exec worker=true \
  --limit worker=MemoryMax=16M --limit worker=MemorySwapMax=0)
trap '"$CLUSTER_DEPLOY" clean --plan "$plan" --node "$node" >/dev/null 2>&1 || true; drop_work' EXIT

run_helper 1 "$WORK/deploy.log" deploy --plan "$plan" --node "$node" --health-timeout 10
code=0
"$CLUSTER_DEPLOY" status --plan "$plan" --node "$node" >"$WORK/status.log" 2>&1 || code=$?
sed 's/^/    | /' "$WORK/status.log"
[[ $code -eq 1 ]] || fail "status exited $code for a service that keeps being killed, expected 1"
grep -qE "^$node +worker +.*oom-kill" "$WORK/status.log" || fail "the status row does not say oom-kill"
"$CLUSTER_DEPLOY" status --plan "$plan" --node "$node" --json 2>/dev/null >"$WORK/status.json" || true
json '"oom-kill" in d["nodes"][0]["services"][0]["failures"]' <"$WORK/status.json" | grep -qx true ||
  fail "status --json failures do not list oom-kill: $(cat "$WORK/status.json")"
say "a service over its MemoryMax is reported OOM-killed"
