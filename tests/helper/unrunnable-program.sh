#!/usr/bin/env bash
# A program the nodes cannot run (another architecture, a shared library they lack) fails the
# deploy with one line naming the node and the reason, before any node switches to it.
source "$(dirname "$0")/lib.sh"
require_env

program=$(plan_attr 'r.find("service[@name=\"worker\"]/program").text')
name=$(basename "$program")
mkdir -p "$WORK/arm" "$WORK/lib"

check_refused() {  # check_refused <plan> <log> <expected reason (regex)>
  local before
  before=$(fingerprints)
  run_helper 1 "$2" deploy --plan "$1"
  local worker
  for worker in $(nodes_in_group workers); do
    grep -qE "^$worker: .*bin/$name $3" "$2" || fail "$worker: no one-line refusal matching 'bin/$name $3'"
  done
  [[ "$(fingerprints)" == "$before" ]] || fail "a refused deploy changed a running service"
}

# The worker built for aarch64 (its ELF header says so).
cp "$program" "$WORK/arm/$name"
printf '\267\000' | dd of="$WORK/arm/$name" bs=1 seek=18 conv=notrunc status=none
arm=$(plan_variant arm --program "worker=$WORK/arm/$name")
check_refused "$arm" "$WORK/arm.log" "is built for another architecture \(ELF machine 183\) than this x86_64 node"

# A worker linked against a library that no node has.
printf 'int cluster_deploy_test_missing(void) { return 0; }\n' >"$WORK/lib/missing.c"
cc -shared -fPIC -o "$WORK/lib/libcdmissing.so.1" -Wl,-soname,libcdmissing.so.1 "$WORK/lib/missing.c"
printf 'int cluster_deploy_test_missing(void);\nint main(void) { return cluster_deploy_test_missing(); }\n' >"$WORK/lib/main.c"
cc -o "$WORK/lib/$name" "$WORK/lib/main.c" "$WORK/lib/libcdmissing.so.1"
lacking=$(plan_variant lacking --program "worker=$WORK/lib/$name")
check_refused "$lacking" "$WORK/lacking.log" "cannot run on this node: it lacks libcdmissing.so.1"

say "ok: programs the nodes cannot run are refused before any switch, naming node and reason"
