#!/usr/bin/env bash
# A lossy link as etcd's client sees it (issue 25): with `fault loss --percent 40` between a
# worker and the servers, the worker's etcd requests time out and go to the next server, and the
# count of failed requests it publishes (etcd_failures) rises; another worker's does not, and
# after heal the worker's stops rising. (tests/helper/fault-loss.sh counts TCP connections.)
source "$(dirname "$0")/lib.sh"
require_env
require_faults

mapfile -t workers < <(nodes_in_group workers)
((${#workers[@]} >= 2)) || fail "needs two workers: one behind a lossy link, one to compare"
target=${workers[0]} other=${workers[1]}
trap 'fault heal >/dev/null 2>&1 || true' EXIT

failures() { result_field "$1" etcd_failures; }
published_after() { (($(result_field "$1" published_at) > $2)); }
has_failures_field() { [[ -n $(failures "$1") ]]; }

wait_until 30 "$target publishes no etcd_failures (an older worker?)" has_failures_field "$target"
target_before=$(failures "$target") other_before=$(failures "$other")
fault loss "$target" --from servers --percent 40 --for 60 >/dev/null
sleep 15
fault heal >/dev/null
healed=$(date +%s)
wait_until 30 "$target published nothing after heal" published_after "$target" "$healed"
target_during=$(($(failures "$target") - target_before))
other_during=$(($(failures "$other") - other_before))
((target_during >= 3)) || fail "$target had only $target_during failed etcd requests in 15 s of 40% loss"
((other_during == 0)) || fail "$other, behind no fault, had $other_during failed etcd requests"

settled=$(failures "$target") since=$(date +%s)
sleep 5
wait_until 30 "$target published nothing in 5 s" published_after "$target" $((since + 5))
((($(failures "$target") - settled) == 0)) || fail "$target's etcd requests still fail after heal"
say "ok: 15 s of 40% loss: $target_during failed etcd requests on $target, $other_during on $other; none on $target after heal"
