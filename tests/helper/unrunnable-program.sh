#!/usr/bin/env bash
# A program the nodes cannot run (another architecture, a shared library they lack) stops
# the deploy before any node is changed: exit 2, one line per node naming the reason, no
# file sent anywhere. With BUNDLE_LIBS the library ships with the program and it runs.
source "$(dirname "$0")/lib.sh"
require_env

program=$(service_program worker)
name=$(basename "$program")
mkdir -p "$WORK/arm" "$WORK/lib"

staging_count() {  # staging folders and releases on the workers (a refused deploy adds none)
  local worker
  for worker in $(nodes_in_group workers); do
    on_node "$worker" "ls -a /opt/$CLUSTER_DEPLOY_NAME/releases | wc -l"
  done
}

check_refused() {  # check_refused <plan> <log> <expected reason (regex)>
  local before releases
  before=$(fingerprints)
  releases=$(staging_count)
  run_helper 2 "$2" deploy --plan "$1"
  local worker
  for worker in $(nodes_in_group workers); do
    grep -qE "^$worker: .*bin/$name $3" "$2" || fail "$worker: no one-line refusal matching 'bin/$name $3'"
  done
  grep -q "nothing was changed on any node" "$2" || fail "the refusal does not say that nothing changed"
  [[ "$(fingerprints)" == "$before" ]] || fail "a refused deploy changed a running service"
  [[ "$(staging_count)" == "$releases" ]] || fail "a refused deploy left files on a node"
}

# The worker built for aarch64 (its ELF header says so).
cp "$program" "$WORK/arm/$name"
printf '\267\000' | dd of="$WORK/arm/$name" bs=1 seek=18 conv=notrunc status=none
arm=$(plan_variant arm --program "worker=$WORK/arm/$name" --bundle-libs worker=none)
check_refused "$arm" "$WORK/arm.log" "is built for another architecture \(ELF machine 183\) than this x86_64 node"

# A worker linked against a library that no node has (the controller finds it by RUNPATH, as
# in a CMake build tree). It records that it ran, then waits to be stopped.
printf 'int cluster_deploy_test_missing(void) { return 0; }\n' >"$WORK/lib/missing.c"
cc -shared -fPIC -o "$WORK/lib/libcdmissing.so.1" -Wl,-soname,libcdmissing.so.1 "$WORK/lib/missing.c"
cat >"$WORK/lib/main.c" <<'C'
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
int cluster_deploy_test_missing(void);
int main(void) {
  char path[4096];
  snprintf(path, sizeof path, "%s/bundled-ran", getenv("CLUSTER_DEPLOY_DATA_DIR"));
  FILE *f = fopen(path, "w");
  if (!f || fprintf(f, "%d\n", cluster_deploy_test_missing()) < 0 || fclose(f) != 0) return 1;
  for (;;) pause();
}
C
cc -o "$WORK/lib/$name" "$WORK/lib/main.c" -Wl,-rpath,"$WORK/lib" "$WORK/lib/libcdmissing.so.1"
lacking=$(plan_variant lacking --program "worker=$WORK/lib/$name" --bundle-libs worker=none)
check_refused "$lacking" "$WORK/lacking.log" "cannot run on this node: it lacks libcdmissing.so.1"

# BUNDLE_LIBS: the library goes with the program and the service finds it. On the last worker:
# the first may be older than the controller's glibc (that is BUNDLE_LIBS ALL's case:
# helper.portable-program).
worker=$(nodes_in_group workers | tail -n 1)
bundled=$(plan_variant bundled --program "worker=$WORK/lib/$name" --bundle-libs worker=true \
  --health-exec 'worker=test -s @data_dir@/bundled-ran')
restore() {  # the worker back on the plan's release, and the work folder gone either way
  local status=0
  (run_helper 0 "$WORK/back.log" deploy --plan "$CLUSTER_DEPLOY_PLAN" --node "$worker") || status=1
  drop_work
  ((status == 0)) || exit 1
}
trap restore EXIT
on_node "$worker" "sudo rm -f /var/lib/$CLUSTER_DEPLOY_NAME/worker/bundled-ran"
run_helper 0 "$WORK/bundled.log" deploy --plan "$bundled" --node "$worker"
on_node "$worker" "sudo test -s /var/lib/$CLUSTER_DEPLOY_NAME/worker/bundled-ran" || fail "the bundled program did not run"
pid=$(on_node "$worker" "systemctl show -P MainPID $CLUSTER_DEPLOY_NAME-worker.service")
on_node "$worker" "sudo grep -q '/lib/worker/libcdmissing.so.1\$' /proc/$pid/maps" ||
  fail "the running worker did not load the shipped libcdmissing.so.1"

say "ok: programs the nodes cannot run are refused before any change, naming node and reason; BUNDLE_LIBS ships the library"
