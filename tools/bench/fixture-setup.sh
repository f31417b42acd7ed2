#!/usr/bin/env bash
# Benchmark: what an IDE pays per test when the cluster is kept (CLUSTER_DEPLOY_KEEP_CLUSTER):
# the CTest fixture test cluster.setup with the local cluster up and the release current.
#   tools/bench/fixture-setup.sh BUILD_DIR [RUNS]     (as root; the local cluster must be down)
# It runs cluster.setup once to boot the local cluster and deploy, then RUNS more times
# (default 7) as `ctest -R '^cluster\.setup$'`, as an IDE does, and times each of its steps
# alone as often; prints the medians. cluster.cleanup takes the local cluster down at the end.
# With the build configured -DCLUSTER_DEPLOY_WARM_SESSIONS=<seconds>, the steps run --warm:
# the agent they start lives in this script's own runtime folder and is stopped at the end.
set -euo pipefail

build=$(cd "${1:?build dir}" && pwd)
runs=${2:-7}
work=$(mktemp -d /tmp/cluster-deploy-bench-fixture.XXXXXX)
export XDG_RUNTIME_DIR=$work/runtime  # a warm-session agent of this run's own
mkdir -m 0700 "$XDG_RUNTIME_DIR"

cleanup() {
  ctest --test-dir "$build" -R '^cluster\.cleanup$' >"$work/cleanup.log" 2>&1 ||
    { echo "fixture-setup: cluster.cleanup failed:" >&2; tail -n 20 "$work/cleanup.log" >&2; }
  pkill -f "cluster-deploy agent --socket $XDG_RUNTIME_DIR/" || true
  rm -rf "$work"
}

[[ -r $build/CTestTestfile.cmake ]] || { echo "fixture-setup: configure and build $build first (preset local-cluster)" >&2; exit 2; }
if pgrep -x systemd-nspawn >/dev/null; then
  echo "fixture-setup: a local cluster is running; take it down first (there is one per machine)" >&2
  exit 2
fi
trap cleanup EXIT

# The fixture's steps, as CTest runs them: its command line split at RunSteps.cmake's markers.
ctest --test-dir "$build" --show-only=json-v1 >"$work/tests.json"
# Each step's words go NUL-separated into $work/step<n>.cmd.
python3 - "$work/tests.json" "$work" <<'EOF'
import json, sys
test = next(t for t in json.load(open(sys.argv[1]))["tests"] if t["name"] == "cluster.setup")
steps, step = [], []
for word in test["command"][test["command"].index("--") + 1:] + ["::step::"]:
    if word in ("::step::", "::optional-step::"):
        if step:
            steps.append(step)
        step = []
    else:
        step.append(word)
for n, words in enumerate(steps, 1):
    open(f"{sys.argv[2]}/step{n}.cmd", "w").write("\0".join(words) + "\0")
EOF

ms_now() { date +%s%N; }
median() { sort -n | awk '{ a[NR] = $1 } END { m = a[int((NR + 1) / 2)]; printf "%d.%02d", m / 1000, (m % 1000) / 10 }'; }

ctest --test-dir "$build" -R '^cluster\.setup$' --output-on-failure >"$work/boot.log" 2>&1 ||
  { echo "fixture-setup: the first cluster.setup failed:" >&2; tail -n 20 "$work/boot.log" >&2; exit 1; }

: >"$work/setup.ms"
for ((i = 0; i < runs; i++)); do
  start=$(ms_now)
  ctest --test-dir "$build" -R '^cluster\.setup$' >"$work/setup.log" 2>&1 ||
    { echo "fixture-setup: cluster.setup failed:" >&2; tail -n 20 "$work/setup.log" >&2; exit 1; }
  echo $((($(ms_now) - start) / 1000000)) >>"$work/setup.ms"
done

echo "cluster.setup with the local cluster up and the release current, $(nproc) cores, $(date -u +%F), medians of $runs:"
printf '  %-60s %6s s\n' "ctest -R '^cluster\\.setup\$'" "$(median <"$work/setup.ms")"
for ((n = 1; ; n++)); do
  [[ -f $work/step$n.cmd ]] || break
  mapfile -d '' -t step <"$work/step$n.cmd"
  : >"$work/step$n.ms"
  for ((i = 0; i < runs; i++)); do
    start=$(ms_now)
    "${step[@]}" >"$work/step.log" 2>&1 ||
      { echo "fixture-setup: step failed: ${step[*]}" >&2; tail -n 20 "$work/step.log" >&2; exit 1; }
    echo $((($(ms_now) - start) / 1000000)) >>"$work/step$n.ms"
  done
  printf '  %-60s %6s s\n' "  $(basename "${step[0]}") ${step[1]}" "$(median <"$work/step$n.ms")"
done
# The last step is the deploy: with everything current it changes nothing.
grep -q 'nothing changed on any node' "$work/step.log" ||
  { echo "fixture-setup: the deploy of cluster.setup changed something with everything current" >&2; exit 1; }
