#!/usr/bin/env bash
# Benchmark for fan-out (issue 13): the FIRST deploy of the example cluster (3 etcd servers +
# N-3 workers) to an N-node local cluster behind a simulated 100 Mbit/s controller uplink, with
# direct uploads (`cluster-deploy deploy --fan-out off`: every node gets its files from the
# controller) against fan-out (`--fan-out on`: a file that goes to 2+ nodes is relayed between
# nodes). Measures the wall time of each deploy and the bytes this host (the controller) sent to
# the nodes.
#
#   tools/bench/fan-out.sh BUILD_DIR [N] [RUNS] [--worker-mib M] [--modes "off auto on"] [--write-doc]
#
# N: nodes, 4-103 (default 32); RUNS: deploys per mode (default 3); the modes alternate, run by run,
# so a change in the host's load hits both alike. --worker-mib M deploys a worker program of M MiB
# (the example's with random bytes appended; an ELF file runs with trailing data), as large as the
# programs the issue is about (a 50 MB binary). --modes runs only these of the three (at 103 nodes
# `off` sends every node's copy through the uplink: minutes of a run that shows nothing new). --write-doc also puts the method and the table
# into docs/benchmarks.md as the section "## Fan-out" (replaced if there, else appended).
# As root, with the local cluster down: it brings its own up and takes it down again, and always
# removes its nftables table at exit. Installs the Debian package nftables when nft is missing.
# Every deploy's output (each line with the time it arrived) and the raw measurements stay in
# BUILD_DIR/bench/fan-out-logs. The table (medians) goes to stdout, progress to stderr.
#
# The uplink: an nftables table of our own (and no other table is touched) with a chain on the
# output hook. Only packets this host sends to the local cluster's subnet pass it: the controller's
# SSH traffic to the nodes. Node-to-node traffic (the relays of fan-out) is bridged on cdlc0 from
# one node's veth to another's; it never passes the host's output hook (with br_netfilter loaded,
# bridged packets see the forward hooks, not output), so it is not limited and not counted.
set -euo pipefail

readonly subnet=10.213.77.0/24            # local-cluster's subnet (NET_PREFIX in tools/local-cluster/local-cluster)
readonly nft_table=cluster_deploy_bench_uplink
readonly rate_bytes=12500000              # 100 Mbit/s
# The kernel's byte limiter is a token bucket that holds rate x 1 s + burst bytes (nft_limit.c:
# tokens_max = unit * (rate + burst) / rate, and the smallest unit is a second). So even with
# burst 0 it holds 12.5 MB: far more than TCP needs to reach the rate (the output hook sees GSO
# packets of up to 64 KiB, and an RTO stall of 200 ms refills only 2.5 MB, spent again at once),
# so the long-run average stays at the rate. The price: a transfer that starts after a second
# without traffic gets its first 12.5 MB at full speed. Every deploy starts so (after a clean and
# the helper's connect phase), direct and fan-out alike; the uplink measurement below accounts for it.
readonly burst_bytes=0
readonly uplink_test_bytes=50000000       # the scp that measures the simulated uplink: 50 MB
modes=(off auto on)

count=32 runs=3 doc=0 worker_mib=0
positional=()
while (($#)); do
  case $1 in
    --write-doc) doc=1 ;;
    --modes)
      read -r -a modes <<<"${2:-}"
      for mode in "${modes[@]}"; do
        [[ $mode =~ ^(off|auto|on)$ ]] || { echo "fan-out: --modes takes off, auto and on" >&2; exit 2; }
      done
      ((${#modes[@]} > 0)) || { echo "fan-out: --modes needs one mode or more" >&2; exit 2; }
      shift
      ;;
    --worker-mib)
      [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || { echo "fan-out: --worker-mib needs a size in MiB" >&2; exit 2; }
      worker_mib=$2
      shift
      ;;
    -h | --help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
    -*) echo "fan-out: unknown option $1" >&2; exit 2 ;;
    *) positional+=("$1") ;;
  esac
  shift
done
((${#positional[@]} >= 1 && ${#positional[@]} <= 3)) || { echo "usage: fan-out.sh BUILD_DIR [N] [RUNS] [--worker-mib M] [--modes 'off auto on'] [--write-doc]" >&2; exit 2; }
build=$(cd "${positional[0]}" && pwd)
count=${positional[1]:-$count}
runs=${positional[2]:-$runs}

repo=$(cd "$(dirname "$0")/../.." && pwd)
helper=$build/tools/cluster-deploy/cluster-deploy
plan=$build/cluster-deploy/plan.xml
local_cluster=$repo/tools/local-cluster/local-cluster
logs=$build/bench/fan-out-logs

if [[ ! $count =~ ^[0-9]+$ ]] || ((count < 4 || count > 103)); then echo "fan-out: N must be 4-103" >&2; exit 2; fi
if [[ ! $runs =~ ^[1-9][0-9]*$ ]]; then echo "fan-out: RUNS must be 1 or more" >&2; exit 2; fi
[[ -x $helper && -r $plan ]] || { echo "fan-out: build $build first (preset local-cluster)" >&2; exit 2; }
((EUID == 0)) || { echo "fan-out: run as root (the local cluster and nftables need it)" >&2; exit 2; }
if ! grep -q -- '--fan-out' <<<"$(timeout 30 "$helper" deploy --help 2>&1)"; then
  echo "fan-out: $helper has no 'deploy --fan-out' (issue 13); build a helper that has it" >&2
  exit 2
fi
if pgrep -x systemd-nspawn >/dev/null; then
  echo "fan-out: a local cluster is running; take it down first" >&2
  exit 2
fi

log() { printf '%s fan-out: %s\n' "$(date +%T)" "$*" >&2; }

if ! command -v nft >/dev/null; then
  log "installing nftables"
  DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -q nftables >/dev/null
fi

work=$(mktemp -d /tmp/cluster-deploy-fan-out.XXXXXX)
results=$work/results.tsv   # mode run wall_s staged_at_s stage_s sent_bytes dropped_bytes
cluster_up=0

cleanup() {
  # The uplink limit first and always: nothing else on this host may stay throttled.
  timeout 30 nft delete table inet "$nft_table" >/dev/null 2>&1 || true
  if ((cluster_up)); then
    timeout 300 "$helper" clean --plan "$work/plan.xml" --purge-data >/dev/null 2>&1 || true
    timeout 600 "$local_cluster" down --inventory "$work/inventory" --helper "$helper" >/dev/null 2>&1 ||
      timeout 600 "$local_cluster" down >/dev/null 2>&1 || true
  fi
  rm -rf "$logs"
  mkdir -p "$logs"
  cp "$work"/*.log "$work"/*.tsv "$work"/*.md "$work"/*.nft "$logs/" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The uplink, as one nft batch: created (or replaced, after a run that could not clean up) at once.
# The counter "sent" sits after the limiter, so it counts what the uplink carried (retransmissions
# included, as on a real wire); "dropped" counts what the limiter threw away. Both count skb
# lengths at the output hook: IP, TCP and SSH overhead included, the headers of a GSO packet once.
uplink_ruleset() {
  cat <<EOF
table inet $nft_table {}
delete table inet $nft_table
table inet $nft_table {
  counter sent {}
  counter dropped {}
  chain output {
    type filter hook output priority 0; policy accept;
    ip daddr $subnet limit rate over $rate_bytes bytes/second burst $burst_bytes bytes counter name "dropped" drop
    ip daddr $subnet counter name "sent"
  }
}
EOF
}

reset_counters() {
  timeout 30 nft reset counter inet "$nft_table" sent >/dev/null
  timeout 30 nft reset counter inet "$nft_table" dropped >/dev/null
}

counter_bytes() {  # counter_bytes <name>
  timeout 30 nft list counter inet "$nft_table" "$1" | awk '$1 == "packets" { print $4 }'
}

# The whole machine's CPU ticks so far (user nice system irq softirq steal): the nodes share its cores.
cpu_ticks() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat; }

seconds_since() {  # seconds_since <date +%s%N>: seconds with 3 decimals
  local ms=$((($(date +%s%N) - $1) / 1000000))
  printf '%d.%03d' $((ms / 1000)) $((ms % 1000))
}

setup() {
  mkdir -p "$work/inventory"
  for i in 1 2 3; do echo "server$i:10.213.77.1$i"; done >"$work/inventory/servers.txt"
  for ((i = 1; i <= count - 3; i++)); do echo "worker$i:10.213.77.$((20 + i)) shard=$((i - 1))"; done >"$work/inventory/workers.txt"
  log "booting $count nodes"
  cluster_up=1
  timeout 1800 "$local_cluster" up --inventory "$work/inventory" --out "$work/local-cluster" --helper "$helper" \
    >"$work/local-cluster-up.log" 2>&1 || { echo "fan-out: local-cluster up failed:" >&2; tail -n 20 "$work/local-cluster-up.log" >&2; exit 1; }
  ssh_config=$work/local-cluster/ssh_config
  first_node=$(awk 'NR == 1 { print $1 }' "$work/local-cluster/nodes.txt")
  local program_args=()
  if ((worker_mib)); then
    local program
    program=$(python3 -c 'import sys, xml.etree.ElementTree as ET; print(ET.parse(sys.argv[1]).getroot().find("service[@name=\"worker\"]/program").text)' "$plan")
    mkdir -p "$work/worker"
    cp "$program" "$work/worker/"
    head -c $((worker_mib * 1024 * 1024 - $(stat -c %s "$program"))) /dev/urandom >>"$work/worker/${program##*/}"
    program_args=(--program "worker=$work/worker/${program##*/}")
  fi
  python3 "$repo/tests/helper/plan_variant.py" "$plan" "$work" --inventory "$work/inventory" \
    --ssh-config "$ssh_config" "${program_args[@]}" >/dev/null
  uplink_ruleset >"$work/uplink.nft"
  timeout 30 nft -f "$work/uplink.nft"
}

# The simulated uplink, measured once: scp of 50 MB of random bytes to one node.
measure_uplink() {
  local start seconds sent
  head -c "$uplink_test_bytes" /dev/urandom >"$work/uplink-test.bin"
  sleep 2 # bounded: a full bucket, as at the start of every deploy
  reset_counters
  start=$(date +%s%N)
  timeout --foreground 300 scp -q -F "$ssh_config" "$work/uplink-test.bin" "$first_node:fan-out-uplink-test.bin"
  seconds=$(seconds_since "$start")
  sent=$(counter_bytes sent)
  timeout --foreground 60 ssh -F "$ssh_config" "$first_node" rm -f fan-out-uplink-test.bin
  rm -f "$work/uplink-test.bin"
  # Apparent: 50 MB over the time. Sustained: less the bucket the transfer started with.
  uplink_text=$(awk -v b="$uplink_test_bytes" -v s="$seconds" -v w="$sent" -v k=$((rate_bytes + burst_bytes)) -v n="$first_node" 'BEGIN {
    printf "scp of %d MB to %s took %.1f s: %.1f MB/s apparent, %.1f MB/s (%.0f Mbit/s) sustained ", b / 1e6, n, s, b / 1e6 / s, (w - k) / 1e6 / s, (w - k) * 8e-6 / s
    printf "(%.1f MB on the wire, less the %.1f MB the full bucket let through at once)", w / 1e6, k / 1e6 }')
  log "uplink: $uplink_text"
}

# One distinct copy of each file, and every node's files: the floors of the controller's bytes
# with perfect fan-out and with direct uploads. A node's release is its services' programs, the
# configs rendered from the templates and its units (the helper renders them into the plan's
# output folder, <work>/render/<node>/, during the deploy). Files are told apart by content
# (SHA-256): the two programs (etcd, the worker) are the bulk; the rendered files are a few KB a
# node and differ from node to node (each names its node), so each counts once per node in both.
file_floors() {
  python3 - "$work/plan.xml" "$work/render" <<'EOF'
import hashlib, os, sys, xml.etree.ElementTree as ET

plan, out = sys.argv[1:3]
programs = {}
for service in ET.parse(plan).getroot().findall("service"):
    programs.setdefault(service.get("group"), []).append(service.find("program").text.strip())
digests, distinct, every_node = {}, {}, 0
with open(os.path.join(out, "nodes.txt")) as nodes:
    for line in nodes:
        name, _address, group = line.split()[:3]
        files = set(programs.get(group, []))
        for folder, _dirs, names in os.walk(os.path.join(out, name)):
            files.update(os.path.join(folder, n) for n in names)
        for path in files:
            if path not in digests:
                digest = hashlib.sha256()
                with open(path, "rb") as f:
                    for chunk in iter(lambda: f.read(1 << 20), b""):
                        digest.update(chunk)
                digests[path] = digest.hexdigest()
            size = os.path.getsize(path)
            every_node += size
            distinct[digests[path]] = size
print(sum(distinct.values()), every_node)
EOF
}

# deploy_run <mode> <run>: a first deploy (after clean --purge-data) with the counters reset.
deploy_run() {
  local mode=$1 run=$2 logfile=$work/deploy-$1-$2.log start wall staged ticks cpu
  timeout --foreground 600 "$helper" clean --plan "$work/plan.xml" --purge-data >"$work/clean-$mode-$run.log" 2>&1 ||
    { echo "fan-out: clean before $mode run $run failed:" >&2; tail -n 20 "$work/clean-$mode-$run.log" >&2; exit 1; }
  reset_counters
  ticks=$(cpu_ticks)
  start=$(date +%s%N)
  # Every output line gets the time it arrived (seconds since the epoch), as compare.sh does.
  if ! timeout --foreground 900 "$helper" deploy --plan "$work/plan.xml" --fan-out "$mode" -v 2>&1 |
    perl -MTime::HiRes=time -ne '$| = 1; printf "%.3f %s", time, $_' >"$logfile"; then  # pipefail: the helper's status
    echo "fan-out: deploy --fan-out $mode (run $run) failed:" >&2
    tail -n 30 "$logfile" >&2
    exit 1
  fi
  wall=$(seconds_since "$start")
  cpu=$(awk -v from="$ticks" -v to="$(cpu_ticks)" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.1f", (to - from) / hz }')
  staged=$(grep -c ': staged release ' "$logfile" || true)
  ((staged == count)) || log "warning: $mode run $run: $staged 'staged release' lines for $count nodes (was it a first deploy?)"
  # The stage phase, from the progress lines: "<node>: release <id>: send N files ..." when a node's
  # staging starts, "<node>: staged release <id>" when it is done. "-" where the log has none.
  read -r staged_at stage < <(awk -v t0="$start" '
    / [^ ]+: release [^ ]+: send / && !begin { begin = $1 }
    / [^ ]+: staged release / { end = $1 }
    END {
      if (end) printf "%.3f ", end - t0 / 1e9; else printf "- "
      if (begin && end) printf "%.3f\n", end - begin; else print "-"
    }' "$logfile")
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$mode" "$run" "$wall" "$staged_at" "$stage" \
    "$(counter_bytes sent)" "$(counter_bytes dropped)" "$cpu" >>"$results"
  log "$mode run $run: ${wall} s, all staged at ${staged_at} s, $(tail -n 1 "$results" | awk -F'\t' '{ printf "%.1f MiB sent", $6 / 1048576 }')"
}

# The markdown table (medians of the runs; ratios of medians) and the lines under it.
table() {
  python3 - "$results" "$distinct_bytes" "$every_node_bytes" "$rate_bytes" "${modes[@]}" <<'EOF'
import statistics, sys
from collections import defaultdict

results, distinct, every_node, rate = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
modes = sys.argv[5:]
samples = defaultdict(lambda: defaultdict(list))
with open(results) as lines:
    for line in lines:
        mode, _run, *values = line.rstrip("\n").split("\t")
        for name, value in zip(("wall", "staged_at", "stage", "sent", "dropped", "cpu"), values):
            if value != "-":
                samples[mode][name].append(float(value))

def median(mode, name):
    values = samples[mode][name]
    return statistics.median(values) if values else None

def seconds(value):
    return "-" if value is None else f"{value:.1f}"

mib = 1024 * 1024
direct = median("off", "wall")
print("| --fan-out | wall (s) | whole machine (CPU-s) | all staged at (s) | stage (s) | controller sent (MiB) "
      "| ÷ one copy of each distinct file | ÷ every node's files | wall: direct ÷ this | stage: uplink floor ÷ this |")
print("|---|---|---|---|---|---|---|---|---|---|")
floor = distinct / rate
for mode in modes:
    wall, sent, stage = median(mode, "wall"), median(mode, "sent"), median(mode, "stage")
    of_floor = "-" if not stage else f"{floor / stage * 100:.0f} %"
    print(f"| {mode} | {seconds(wall)} | {seconds(median(mode, 'cpu'))} | {seconds(median(mode, 'staged_at'))} | {seconds(stage)} "
          f"| {sent / mib:.1f} | {sent / distinct:.2f}× | {sent / every_node:.2f}× "
          f"| {'-' if direct is None else f'{direct / wall:.2f}×'} | {of_floor} |")
print()
print(f"One copy of each distinct file: {distinct / mib:.1f} MiB; every node's files: {every_node / mib:.1f} MiB; "
      f"the uplink floor, one copy of each distinct file at {rate * 8 / 1e6:.0f} Mbit/s: {floor:.1f} s. "
      "Limiter drops (medians): " + ", ".join(f"{m} {median(m, 'dropped') / mib:.1f} MiB" for m in modes) + ". "
      f"Runs per mode: {'/'.join(str(len(samples[m]['wall'])) for m in modes)}.")
EOF
}

# write_doc <table file>: docs/benchmarks.md gets the section "## Fan-out", in place of the old one.
write_doc() {
  local section=$work/section.md heading="## Fan-out: the example" worker_option=""
  if ((worker_mib)); then
    heading="## Fan-out: the example with a $worker_mib MiB worker program"
    worker_option=" --worker-mib $worker_mib"
  fi
  {
    cat <<EOF
$heading

One run of \`tools/bench/fan-out.sh <build> $count $runs$worker_option --write-doc\` (as root, with the local
cluster down) boots a $count-node local cluster (the example: 3 etcd servers, $((count - 3)) workers) and
times the first deploy of the example cluster (after \`cluster-deploy clean --purge-data\`) with
\`--fan-out off\` (every node gets its files from the controller), \`--fan-out auto\` (the default:
a program of 4 MiB or more that goes to 8 nodes or more is passed on between nodes) and
\`--fan-out on\` (every program that goes to 2 or more nodes is passed on), $runs times each, the
modes alternating. Passed on means streamed: each node reads its parent's copy, in a tree of
degree 3, while the parent is still taking it.

**The uplink**: an nftables table of the script's own (\`inet $nft_table\`, removed at exit) limits
what this host sends to the local cluster's subnet ($subnet) to 100 Mbit/s
(\`limit rate over $rate_bytes bytes/second\` then drop) and counts the bytes that pass: the
controller's bytes, IP, TCP and SSH overhead and retransmissions included. Node-to-node traffic is
bridged on cdlc0 and never passes the host's output hook, so relays between nodes are neither
limited nor counted. The kernel's limiter is a token bucket of 1 s of the rate (12.5 MB): a
transfer that starts after an idle second gets its first 12.5 MB at full speed; every deploy
starts so, in both modes. Measured once per run of the script: $uplink_text.

**Floors of the controller's bytes**: *one copy of each distinct file* is what the controller must
send at least with perfect fan-out: every distinct content (by SHA-256) among the nodes' releases
once (the etcd and worker programs, and the rendered configs and units, a few KB in all);
*every node's files* is what direct uploads must send (each node's program, configs and unit).

Columns: *wall* is the whole \`cluster-deploy deploy\` (render, connect, stage, start in rollout
order, health); *whole machine* is the CPU-seconds of the whole machine meanwhile (\`/proc/stat\`:
the nodes share its cores); *all staged at* is when the last node's \`staged release\` line came, from the start;
*stage* is from the first node's \`release ...: send\` line to that; medians of the runs, ratios of medians.
*Stage: uplink floor ÷ this* is how close staging came to the time one copy of each distinct file
takes at 100 Mbit/s (the token bucket's first 12.5 MB at full speed can lift it above 100 %).

EOF
    echo "Measured $(date -u +%F), $(nproc) cores, host load averages at the start: $load_before."
    echo
    cat "$1"
  } >"$section"
  python3 - "$repo/docs/benchmarks.md" "$section" "$heading" <<'EOF'
import sys

doc_path, section_path, heading = sys.argv[1:4]
with open(doc_path) as f:
    lines = f.read().splitlines(keepends=True)
with open(section_path) as f:
    section = f.read().rstrip("\n") + "\n"
start = next((i for i, line in enumerate(lines) if line.rstrip("\n") == heading), None)
if start is None:
    text = "".join(lines).rstrip("\n") + "\n\n" + section
else:
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    rest = "".join(lines[end:])
    text = "".join(lines[:start]) + section + ("\n" + rest if rest else "")
with open(doc_path, "w") as f:
    f.write(text)
EOF
  log "wrote the section \"$heading\" of docs/benchmarks.md"
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
setup
measure_uplink
: >"$results"
for ((run = 1; run <= runs; run++)); do
  for mode in "${modes[@]}"; do deploy_run "$mode" "$run"; done
done
floors=$(file_floors)
read -r distinct_bytes every_node_bytes <<<"$floors"

echo "nodes: $count (3 etcd servers, $((count - 3)) workers), $(nproc) cores, $(date -u +%F); uplink: $uplink_text"
echo
table | tee "$work/table.md"
((doc == 0)) || write_doc "$work/table.md"
