#!/usr/bin/env bash
# Fan-out (deploy --fan-out on): a new worker program goes from the controller to one worker, and
# flows on from worker to worker while it arrives (each reads its parent's copy as it is
# written), over SSH with a key made for this deploy alone. A worker cut off from the other
# nodes in the middle of it does not stop the deploy: the streams below it break, and the file
# is passed on whole or sent from the controller instead. After a deploy that succeeded and after
# one that failed, the key is gone from every node. A program and a library that change together
# go down one tree as one stream, and the nodes no stream involves (the etcd servers, whose
# environment changes in the same deploy) are staged while the streams run.
source "$(dirname "$0")/lib.sh"
require_env

program=$(service_program worker)
name=$(basename "$program")
c=$CLUSTER_DEPLOY_NAME
mapfile -t workers < <(nodes_in_group workers)
(( ${#workers[@]} >= 3 )) || fail "needs 3 workers, has ${#workers[@]}"
# The first copy goes to the first worker that can pass on: the first in the inventory.
seed=${workers[0]}

# A worker program with <MiB> of random bytes appended (an ELF file runs with trailing data).
big_program() {  # big_program <variant> <MiB>
  mkdir -p "$WORK/$1"
  cp "$program" "$WORK/$1/$name"
  head -c "$(($2 * 1024 * 1024))" /dev/urandom >>"$WORK/$1/$name"
  sha256sum "$WORK/$1/$name" | cut -d' ' -f1
}

check_runs() {  # check_runs <sha256>: every worker runs the program with this content
  local worker got
  for worker in "${workers[@]}"; do
    got=$(on_node "$worker" "sha256sum /opt/$c/current/bin/$name" | cut -d' ' -f1)
    [[ $got == "$1" ]] || fail "$worker: bin/$name is $got, expected $1"
    [[ "$(on_node "$worker" "systemctl is-active $c-worker.service")" == active ]] || fail "$worker: worker not running"
  done
}

check_key_gone() {  # check_key_gone <when>: no node holds either half of a fan-out key
  local node
  while read -r node _; do
    on_node "$node" "sudo sh -c 'test ! -e /opt/$c/relay/.ssh/authorized_keys && test ! -e /run/cluster-deploy/$c/relay'" ||
      fail "$node: the fan-out key is still there $1"
  done < <(all_nodes)
}

cut_table=cd_test_fan_out_cut
heal_cut() { drop_nft_table "$seed" "$cut_table"; }
restore_on_exit heal_cut

# 1. Passed on: one copy from the controller, the others between workers, each worker reading
# from one that was still taking it; the key is gone afterwards.
sha=$(big_program one 64)
one=$(plan_variant one --program "worker=$WORK/one/$name")
run_helper 0 "$WORK/one.log" deploy -v --plan "$one" --fan-out on
grep -qE "^fan-out: 1 file \(.*\): 1 sent from the controller \(.*\), $(( ${#workers[@]} - 1 )) passed on between nodes, 0 fell back" \
  "$WORK/one.log" || fail "the workers did not pass the program on (see the fan-out line above)"
took=$(grep -c "taking bin/$name from " "$WORK/one.log" || true)
((took >= ${#workers[@]} - 1)) || fail "only $took workers took the program from another worker (see the log above)"
check_runs "$sha"
check_key_gone "after a deploy that succeeded"
say "ok: one copy sent from the controller, $(( ${#workers[@]} - 1 )) passed on between workers as streams"

# 2. The seed is cut off from the other workers (not from the controller, nor from etcd) while they
# read the file from it.
sha=$(big_program cut 256)
cut=$(plan_variant cut --program "worker=$WORK/cut/$name")
others=$(for worker in "${workers[@]:1}"; do
  awk -v n="$worker" '$1 == n { print $2 }' "$CLUSTER_DEPLOY_NODES"; done | paste -sd, -)
# On the seed itself: as soon as another worker reads from it, drop everything between it and the
# other workers.
on_node "$seed" "sudo sh -c 'for i in \$(seq 1200); do
    if pgrep -u $c-relay -x perl >/dev/null; then
      sleep 0.2
      nft -f - <<NFT || exit 2
table inet $cut_table {
  chain cut_out { type filter hook output priority 0; ip daddr { $others } drop; }
  chain cut_in { type filter hook input priority 0; ip saddr { $others } drop; }
}
NFT
      echo cut; exit 0
    fi
    sleep 0.05
  done; exit 1'" >"$WORK/cutter.log" 2>&1 &
cutter=$!
run_helper 0 "$WORK/cut.log" deploy --plan "$cut" --fan-out on
wait "$cutter" || fail "no worker read the file from the seed (no relay perl seen on $seed)"
grep -q "^cut$" "$WORK/cutter.log" || fail "the cut was not applied: $(cat "$WORK/cutter.log")"
grep -qE "fan-out: bin/$name from $seed broke off \(.*\)" "$WORK/cut.log" ||
  fail "no broken stream from the cut-off $seed in the log"
grep -qE "fan-out: bin/$name from $seed failed \(.*\); sending it from the controller" "$WORK/cut.log" ||
  fail "no fallback from the cut-off $seed in the log"
check_runs "$sha"
check_key_gone "after a deploy with a node cut off"
heal_cut
say "ok: $seed cut off from the workers mid-stream, the file came another way, every worker runs it"

# 3. A deploy that fails (the new workers never become healthy) takes the key away too.
big_program bad 1 >/dev/null
bad=$(plan_variant bad --program "worker=$WORK/bad/$name" --health-exec 'worker=false')
run_helper 1 "$WORK/bad.log" deploy --plan "$bad" --fan-out on --health-timeout 5
grep -q "^fan-out: 1 file " "$WORK/bad.log" || fail "the failing deploy did not use the fan-out"
check_key_gone "after a deploy that failed"
say "ok: the fan-out key is gone from every node after a failed deploy"

# 4. A program and a library it brings change together (the controller finds a changed
# libstdc++.so.6 first, by LD_LIBRARY_PATH): both go to the same workers, so they are one stream
# down one tree, and each worker takes both from its parent over one connection. etcd's
# environment changes too: no stream involves the servers, so they are staged while the workers'
# stream runs, and each says "staged release" before the fan-out's line (which comes when every
# stream has ended).
sha=$(big_program two 16)
lib=$(ldd "$program" | awk '$1 == "libstdc++.so.6" { print $3 }')
[[ -n $lib ]] || fail "the worker program does not link libstdc++.so.6: $(ldd "$program")"
mkdir -p "$WORK/libs"
cp "$lib" "$WORK/libs/libstdc++.so.6"
head -c $((1024 * 1024)) /dev/urandom >>"$WORK/libs/libstdc++.so.6" # an ELF file loads with trailing data
lib_sha=$(sha256sum "$WORK/libs/libstdc++.so.6" | cut -d' ' -f1)
two=$(plan_variant two --program "worker=$WORK/two/$name" --env "etcd=CD_TEST_FAN_OUT=two")
LD_LIBRARY_PATH=$WORK/libs run_helper 0 "$WORK/two.log" deploy -v --plan "$two" --fan-out on
grep -qE "^fan-out: 2 files \(.*\): 2 sent from the controller \(.*\), $(( 2 * (${#workers[@]} - 1) )) passed on between nodes, 0 fell back" \
  "$WORK/two.log" || fail "the program and its library were not both passed on (see the fan-out line above)"
took=$(grep -E "taking bin/$name and 1 more from " "$WORK/two.log" | grep -vc "from the controller" || true)
((took >= ${#workers[@]} - 1)) ||
  fail "only $took workers took the program and the library from another worker in one take (see the log above)"
check_runs "$sha"
for worker in "${workers[@]}"; do
  got=$(on_node "$worker" "sha256sum /opt/$c/current/lib/worker/libstdc++.so.6" | cut -d' ' -f1)
  [[ $got == "$lib_sha" ]] || fail "$worker: lib/worker/libstdc++.so.6 is $got, expected the changed one $lib_sha"
done
fan_line=$(grep -n "^fan-out: 2 files " "$WORK/two.log" | head -1 | cut -d: -f1)
while read -r server; do
  staged=$(grep -n "^$server: staged release " "$WORK/two.log" | head -1 | cut -d: -f1)
  [[ -n $staged ]] || fail "$server: no staged release in the log (its etcd environment changed)"
  ((staged < fan_line)) || fail "$server was staged after the workers' stream ended (line $staged, the fan-out's line $fan_line)"
  on_node "$server" "sudo cat /proc/\$(systemctl show -p MainPID --value $c-etcd.service)/environ" | tr '\0' '\n' |
    grep -qx "CD_TEST_FAN_OUT=two" || fail "$server: etcd does not run with its new environment"
done < <(nodes_in_group servers)
say "ok: a program and a changed library went down one tree as one stream, one take per worker; the servers were staged meanwhile"
