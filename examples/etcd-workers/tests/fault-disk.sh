#!/usr/bin/env bash
# Full disks and damaged files (issue 25). `fault disk-full` on a worker fills its node's disk
# (the file system of its data folder): the worker's checkpoint writes fail with ENOSPC, and it
# says so in the result it publishes, while another worker writes on; after heal its writes work
# again and no filler is left. `fault corrupt` flips a bit of the worker's checkpoint file, then
# cuts off its last half: each time the worker's own checksum notices (corrupt_found goes up)
# and it writes the file again.
source "$(dirname "$0")/lib.sh"
require_env
require_faults corrupt

mapfile -t workers < <(nodes_in_group workers)
((${#workers[@]} >= 2)) || fail "needs two workers: one with a full disk, one to compare"
target=${workers[0]} other=${workers[1]}
trap 'fault heal >/dev/null 2>&1 || true' EXIT

disk_is() { [[ $(result_field "$1" disk) == "$2" ]]; }
corrupt_found_above() { (($(result_field "$1" corrupt_found) > $2)); }
data=/var/lib/$CLUSTER_DEPLOY_NAME

wait_until 30 "$target publishes no checkpoint outcome (an older worker?)" disk_is "$target" ok
fault disk-full "$target" --service worker --for 120 >/dev/null
wait_until 20 "$target's checkpoint writes do not fail with ENOSPC" disk_is "$target" "No space left on device"
available=$(on_node "$target" "df -B1 --output=avail $data/worker | tail -n 1" | tr -d " ")
disk_is "$other" ok || fail "$other cannot write either: $(result_field "$other" disk)"
"$CLUSTER_DEPLOY" status --plan "$CLUSTER_DEPLOY_PLAN" | grep -E "^$target +worker .*disk-full\(" >/dev/null ||
  fail "status does not show the disk-full fault on $target"
fault heal >/dev/null
wait_until 20 "$target's checkpoint writes still fail after heal" disk_is "$target" ok
if on_node "$target" "sudo ls -a $data $data/worker" | grep -q cluster-deploy-fill; then
  fail "a filler is left on $target after heal"
fi

found=$(result_field "$target" corrupt_found)
fault corrupt "$target" --service worker --file checkpoint --seed 7 >/dev/null
wait_until 20 "$target did not notice the flipped bit" corrupt_found_above "$target" "$found"
fault corrupt "$target" --service worker --file checkpoint --mode truncate >/dev/null
wait_until 20 "$target did not notice the cut file" corrupt_found_above "$target" $((found + 1))
fault heal >/dev/null
on_node "$target" "sudo ls $data/worker" | grep -qx checkpoint || fail "$target has no checkpoint after heal"
say "ok: $target could not write (avail ${available} bytes) while $other could, wrote again after heal;" \
  "found its checkpoint damaged $(($(result_field "$target" corrupt_found) - found)) times (bitflip, truncate)"
