#!/usr/bin/env bash
# Clock skew for one service (issue 25): `fault clock --offset +300` restarts a worker with
# libfaketime preloaded, and the time it publishes with its results runs 300 s ahead while the
# node's own clock and the other workers' do not; after heal it is back. etcd is a Go program,
# whose runtime reads the clock without libc (libfaketime cannot reach it): the fault is refused
# for it with one line.
source "$(dirname "$0")/lib.sh"
require_env
require_faults

mapfile -t servers < <(nodes_in_group servers)
mapfile -t workers < <(nodes_in_group workers)
((${#workers[@]} >= 2)) || fail "needs two workers: one skewed, one to compare"
work=$(mktemp -d "${TMPDIR:-/tmp}/fault-clock.XXXXXX")
trap 'fault heal >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

# skew <worker>: the worker's last published time minus this machine's, in seconds.
skew() {
  local at
  at=$(etcd_get "${servers[0]}" "/$CLUSTER_DEPLOY_NAME/results/$1" | json 'd.get("published_at", 0)') || return 1
  echo $((at - $(date +%s)))
}
# skew_near <worker> <seconds>: true when the worker's skew is within 5 s of <seconds>.
skew_near() {
  local s
  s=$(skew "$1") || return 1
  ((s >= $2 - 5 && s <= $2 + 5))
}

if "$CLUSTER_DEPLOY" fault clock "${servers[0]}" --service etcd --plan "$CLUSTER_DEPLOY_PLAN" >"$work/static.log" 2>&1; then
  fail "a clock fault on etcd (a Go program) was applied"
fi
grep -q "is a Go program" "$work/static.log" || fail "the refusal does not say why: $(cat "$work/static.log")"

# A worker whose node can preload libfaketime into the program: libfaketime is the node's
# package, and the worker runs with the glibc it brought from the build machine (BUNDLE_LIBS
# ALL); a node with a newer glibc than that has a libfaketime the program cannot load, and the
# fault says so and changes nothing there.
skewed=""
for worker in "${workers[@]}"; do
  if "$CLUSTER_DEPLOY" fault clock "$worker" --service worker --offset +300 --for 120 \
    --plan "$CLUSTER_DEPLOY_PLAN" >"$work/clock.log" 2>&1; then
    skewed=$worker
    break
  fi
  say "$worker: $(grep -m1 'libfaketime' "$work/clock.log" || tail -n 1 "$work/clock.log")"
done
[[ -n $skewed ]] || fail "no worker took the clock fault"
wait_until 30 "$skewed does not publish 300 s ahead" skew_near "$skewed" 300
node_skew=$(($(on_node "$skewed" "date +%s") - $(date +%s)))
((node_skew >= -5 && node_skew <= 5)) || fail "the node $skewed's own clock moved too ($node_skew s)"
mapfile -t others < <(without "$skewed" "${workers[@]}")
skew_near "${others[0]}" 0 || fail "${others[0]} publishes $(skew "${others[0]}") s off as well"
"$CLUSTER_DEPLOY" status --plan "$CLUSTER_DEPLOY_PLAN" | grep -E "^$skewed +worker .*clock\(" >/dev/null ||
  fail "status does not show the clock fault on $skewed"
during=$(skew "$skewed")

fault heal >/dev/null
wait_until 30 "$skewed still publishes ahead after heal" skew_near "$skewed" 0
say "ok: $skewed published $during s ahead (its node 0, ${others[0]} $(skew "${others[0]}") s), back to $(skew "$skewed") s after heal; etcd refused"
