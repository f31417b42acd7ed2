#!/usr/bin/env bash
# A deploy killed in the middle of an upload (kill -9: a closed laptop or a lost link looks
# the same to the node) leaves what arrived on the node, root's alone; the next deploy sends
# only the rest, and the worker runs the whole program. Nothing is left over afterwards.
source "$(dirname "$0")/lib.sh"
require_env

program=$(service_program worker)
name=$(basename "$program")
c=$CLUSTER_DEPLOY_NAME
mapfile -t workers < <(nodes_in_group workers)
target=${workers[0]}
partial=/opt/$c/releases/.partial

slow_table=cd_test_resume_slow
unslow() { drop_nft_table "$target" "$slow_table"; }
restore_on_exit unslow

# A worker program with 32 MiB of random bytes appended (an ELF file runs with trailing data).
mkdir -p "$WORK/big"
cp "$program" "$WORK/big/$name"
head -c $((32 * 1024 * 1024)) /dev/urandom >>"$WORK/big/$name"
sha=$(sha256sum "$WORK/big/$name" | cut -d' ' -f1)
size=$(stat -c %s "$WORK/big/$name")
big=$(plan_variant big --program "worker=$WORK/big/$name")

# The node takes at most 2 MB/s over SSH, so the upload lasts long enough to be cut.
on_node "$target" "sudo nft add table inet $slow_table &&
  sudo nft add chain inet $slow_table slow_in '{ type filter hook input priority 0; policy accept; }' &&
  sudo nft add rule inet $slow_table slow_in tcp dport 22 limit rate over 2 mbytes/second drop"

# 1. Killed once a quarter of the program is on the node (bounded wait: 60 s).
"$CLUSTER_DEPLOY" deploy --plan "$big" --node "$target" >"$WORK/killed.log" 2>&1 &
deployer=$!
got=0
for ((i = 0; i < 300; i++)); do
  got=$(on_node "$target" "sudo stat -c %s $partial/$sha 2>/dev/null || echo 0")
  ((got > size / 4)) && break
  kill -0 "$deployer" 2>/dev/null || break
  sleep 0.2
done
kill -9 "$deployer" 2>/dev/null || true
wait "$deployer" 2>/dev/null || true
sed 's/^/    | /' "$WORK/killed.log"
((got > size / 4 && got < size)) || fail "no quarter of the upload seen before it ended ($got of $size bytes)"
unslow
modes=$(on_node "$target" "sudo stat -c %a $partial $partial/$sha" | paste -sd' ')
[[ $modes == "700 600" ]] || fail "the part and its folder are $modes, expected 700 600 (root's alone)"
kept=$(on_node "$target" "sudo stat -c %s $partial/$sha")
((kept >= got && kept < size)) || fail "the part on the node is $kept bytes, expected $got to $size"
say "ok: killed mid-upload, $kept of $size bytes stayed on $target (folder 700, part 600)"

# 2. The next deploy sends the rest, and the worker runs the whole program. (The killed run's
# lock is free once the node's sshd sees its connection gone: --lock-wait covers the moment.)
run_helper 0 "$WORK/resumed.log" deploy --plan "$big" --node "$target" -v --lock-wait 30
grep -qE "$target: at [0-9.]+s: upload bin/$name \(resumed at byte $kept of $size\)" "$WORK/resumed.log" ||
  fail "the upload was not resumed at byte $kept (see the log above)"
uploads=$(grep -cE "$target: at [0-9.]+s: upload bin/$name \(" "$WORK/resumed.log")
((uploads == 1)) || fail "bin/$name was uploaded $uploads times, expected once (resumed)"
running=$(on_node "$target" "sha256sum /opt/$c/current/bin/$name" | cut -d' ' -f1)
[[ $running == "$sha" ]] || fail "$target: bin/$name is $running, expected $sha"
[[ "$(on_node "$target" "systemctl is-active $c-worker.service")" == active ]] || fail "$target: worker not running"
on_node "$target" "sudo test ! -e $partial" || fail "$partial is still there after a deploy that succeeded"
say "ok: the next deploy sent the last $((size - kept)) bytes only; $target runs the whole program, nothing left over"
