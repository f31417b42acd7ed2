#!/usr/bin/env bash
# Benchmark: the same job (the example cluster, 3 etcd servers + N-3 workers: binary, rendered
# configs and unit per node, started and checked healthy) done on the same local cluster by
# cluster-deploy, by a parallel-ssh script (pssh-deploy.sh) and by an Ansible playbook
# (ansible/deploy.yml), next to the floors: `ssh true` to every node at once, scp of the same
# files to every node at once, and the restarts the rollout policy asks for, each until healthy,
# timed on the nodes (restart-until-healthy.sh). `ssh true` is timed twice: before anything runs
# (the first deploy's and the config change's floors) and right after cluster-deploy's first
# deploy, with every service up (the unchanged deploy's and status's: the state they run in).
# cluster-deploy runs each scenario three times: as it comes, with --warm (SSH sessions kept open
# between runs by an agent of this script's own, as in an IDE's edit-deploy-test loop), and with a
# policy-free variant of the plan (every service in one batch, no canary, no settle window, no
# quorum gate; servers still before workers, as the two other tools do), the like-for-like one.
# Every timed command also records the whole machine's CPU-seconds meanwhile (/proc/stat).
#
#   tools/bench/compare.sh BUILD_DIR [--nodes "8 32"] [--runs 3] [--ansible-runs R] [--out FILE] [--raw FILE]
#
# --ansible-runs 0 leaves Ansible out (and python3 on the nodes), for node counts where one
# Ansible run would take too long.
#
# The output of every step of the last run is kept in BUILD_DIR/bench/logs.
# As root, with the local cluster down; it boots it for each node count and takes it down again.
# Installs the Debian packages pssh and ansible-core when their commands are missing, and python3
# on the nodes (Ansible needs it there; the debs are downloaded once into BUILD_DIR/bench/debs).
# Writes the markdown table (medians of the runs) to FILE or stdout; --raw keeps every measurement.
set -euo pipefail

build=$(cd "${1:?build dir}" && pwd)
shift
node_counts="8 32" runs=3 ansible_runs="" out=/dev/stdout raw=""
while (($#)); do
  case $1 in
    --nodes) node_counts=$2 ;;
    --runs) runs=$2 ;;
    --ansible-runs) ansible_runs=$2 ;;
    --out) out=$2 ;;
    --raw) raw=$2 ;;
    *) echo "compare: unknown option $1" >&2; exit 2 ;;
  esac
  shift 2
done
ansible_runs=${ansible_runs:-$runs}

repo=$(cd "$(dirname "$0")/../.." && pwd)
bench=$repo/tools/bench
helper=$build/tools/cluster-deploy/cluster-deploy
plan=$build/cluster-deploy/plan.xml
local_cluster=$repo/tools/local-cluster/local-cluster
[[ -x $helper && -r $plan ]] || { echo "compare: build $build first (preset local-cluster)" >&2; exit 2; }
((EUID == 0)) || { echo "compare: run as root (the local cluster needs it)" >&2; exit 2; }
for n in $node_counts; do ((n >= 4 && n <= 103)) || { echo "compare: node counts must be 4-103" >&2; exit 2; }; done
if pgrep -x systemd-nspawn >/dev/null; then
  echo "compare: a local cluster is running; take it down first" >&2
  exit 2
fi

work=$(mktemp -d /tmp/cluster-deploy-compare.XXXXXX)
mkdir -m 0700 "$work/runtime"  # the warm runs' agent: a socket folder only we can open
results=$work/results.tsv   # nodes tool scenario run seconds cpu-seconds
logs=$build/bench/logs      # every step's output of the last run, kept for reading
: >"$results"

log() { printf '%s compare: %s\n' "$(date +%T)" "$*" >&2; }

close_ansible_masters() {  # ControlPersist keeps ssh masters for 60 s after a run
  local socket
  for socket in "$work"/ansible/cp/*; do
    [[ -S $socket ]] && ssh -o ControlPath="$socket" -O exit none >/dev/null 2>&1
  done
  return 0
}

stop_agent() { pkill -f "cluster-deploy agent --socket $work/runtime/" || true; }

take_down() {
  stop_agent
  close_ansible_masters
  "$local_cluster" down >/dev/null 2>&1 || true
}

cleanup() {
  take_down
  rm -rf "$logs"
  mkdir -p "$logs"
  cp "$work"/*.log "$work"/*.tsv "$logs/" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT  # so that cleanup takes the cluster down on a signal too
trap 'exit 143' TERM

install_tools() {
  local missing=()
  command -v parallel-ssh >/dev/null || missing+=(pssh)
  command -v ansible-playbook >/dev/null || missing+=(ansible-core)
  ((${#missing[@]} == 0)) && return
  log "installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null
}

# each_node <command with {} for the node>: runs it for every node at once, fails if any fails.
each_node() {
  local template=$1 node pids=() pid failed=0
  for node in "${nodes[@]}"; do
    bash -c "${template//\{\}/$node}" &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
  return $failed
}

# python3 on the nodes (Ansible's modules need it; the image has none and the nodes no internet):
# the packages missing from a node's dpkg status, downloaded on this host, installed with dpkg.
install_python() {
  local debs=$build/bench/debs pkg
  ssh -F "$ssh_config" "${nodes[0]}" cat /var/lib/dpkg/status >"$work/node-status"
  mapfile -t packages < <(apt-get -s -o Dir::State::status="$work/node-status" install python3 2>/dev/null | awk '/^Inst/ {print $2}')
  ((${#packages[@]} > 0)) || return 0
  mkdir -p "$debs"
  for pkg in "${packages[@]}"; do
    compgen -G "$debs/${pkg}_*.deb" >/dev/null || (cd "$debs" && apt-get download -q "$pkg" >/dev/null 2>&1)
  done
  mkdir -p "$work/debs"
  for pkg in "${packages[@]}"; do cp "$debs/${pkg}"_*.deb "$work/debs/"; done
  log "installing python3 on $count nodes (${#packages[@]} packages)"
  # Unpacked (keeping the merged-/usr symlinks /lib, /bin, ...), not installed: dpkg -i byte-compiles
  # the standard library on every node (over a minute for 8 nodes on 2 cores); unpacked, python
  # compiles what it imports on first use instead (the untimed Ansible warm-up).
  each_node "scp -q -F '$ssh_config' -r '$work/debs' {}:python-debs &&
    ssh -F '$ssh_config' {} 'for deb in python-debs/*.deb; do dpkg-deb --fsys-tarfile \$deb | sudo tar -x --keep-directory-symlink -C / || exit 1; done; rm -rf python-debs'"
}

# setup <N>: inventory, local cluster, plans and renders for the three tools, python3 on the nodes.
setup() {
  count=$1
  local dir=$work/n$count tool
  rm -rf "$dir"
  mkdir -p "$dir/inventory"
  for i in 1 2 3; do echo "server$i:10.213.77.1$i"; done >"$dir/inventory/servers.txt"
  for ((i = 1; i <= count - 3; i++)); do echo "worker$i:10.213.77.$((20 + i)) shard=$((i - 1))"; done >"$dir/inventory/workers.txt"
  log "booting $count nodes"
  "$local_cluster" up --inventory "$dir/inventory" --out "$dir/local-cluster" --helper "$helper" >/dev/null
  ssh_config=$dir/local-cluster/ssh_config
  nodes_file=$dir/local-cluster/nodes.txt
  mapfile -t nodes < <(awk '{print $1}' "$nodes_file")
  local template
  template=$(python3 -c 'import sys, xml.etree.ElementTree as ET; print(ET.parse(sys.argv[1]).getroot().find("service[@name=\"worker\"]/config").get("template"))' "$plan")
  cp "$template" "$dir/worker.conf.in"
  echo "# bench change" >>"$dir/worker.conf.in"
  # cluster-deploy deploys cluster "example"; the competitors get the same files rendered for their
  # own cluster name (their own paths, units and user), so nothing collides and nothing is shared.
  # No BUNDLE_LIBS for any tool (the nodes run the build machine's Debian): the two other tools
  # ship the program alone, so every tool ships the same bytes.
  for tool in cluster-deploy cluster-deploy-free bench-pssh bench-ansible; do
    local name=(--bundle-libs etcd=none --bundle-libs worker=none)
    case $tool in
      cluster-deploy) ;;
      cluster-deploy-free) name+=(--policy-free) ;;
      *) name+=(--cluster "$tool") ;;
    esac
    python3 "$repo/tests/helper/plan_variant.py" "$plan" "$dir/$tool" "${name[@]}" --inventory "$dir/inventory" \
      --ssh-config "$ssh_config" >/dev/null
    python3 "$repo/tests/helper/plan_variant.py" "$plan" "$dir/$tool/changed" "${name[@]}" --inventory "$dir/inventory" \
      --ssh-config "$ssh_config" --template "worker=$dir/worker.conf.in" >/dev/null
    # A dry run renders every node's files into <out>/render and changes nothing on the nodes.
    "$helper" deploy --dry-run --plan "$dir/$tool/plan.xml" >>"$work/$count-setup.log" 2>&1
    "$helper" deploy --dry-run --plan "$dir/$tool/changed/plan.xml" >>"$work/$count-setup.log" 2>&1
  done
  "$helper" inventory --export ansible --plan "$dir/bench-ansible/plan.xml" >"$dir/inventory.ini"
  ((ansible_runs == 0)) || install_python
  etcd_binary=$(python3 -c 'import sys, xml.etree.ElementTree as ET; print(ET.parse(sys.argv[1]).getroot().find("service[@name=\"etcd\"]/program").text)' "$plan")
  worker_binary=$(python3 -c 'import sys, xml.etree.ElementTree as ET; print(ET.parse(sys.argv[1]).getroot().find("service[@name=\"worker\"]/program").text)' "$plan")
  mapfile -t worker_batches < <(python3 "$bench/batch_sizes.py" "$plan" worker $((count - 3)))
  settle=$(python3 -c 'import sys, xml.etree.ElementTree as ET; print(ET.parse(sys.argv[1]).getroot().find("service[@name=\"worker\"]").get("settle", "2"))' "$plan")
  dir_n=$dir
}

cpu_ticks() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat; }  # user nice system irq softirq steal
ticks_per_second=$(getconf CLK_TCK)

# timed <tool> <scenario> <run> <command...>: runs it, records the wall-clock seconds and the
# whole machine's CPU-seconds meanwhile (the nodes share its cores).
timed() {
  local tool=$1 scenario=$2 run=$3 start ms logfile ticks cpu
  shift 3
  logfile=$work/$count-$tool-$scenario-$run.log
  ticks=$(cpu_ticks)
  start=$(date +%s%N)
  # Every output line gets the time it arrived (seconds since the epoch), to see where the time goes.
  if ! "$@" 2>&1 | perl -MTime::HiRes=time -ne '$| = 1; printf "%.3f %s", time, $_' >"$logfile"; then  # pipefail: the command's status
    echo "compare: $tool $scenario (N=$count, run $run) failed:" >&2
    tail -n 30 "$logfile" >&2
    # Another tool's failure is a result of the comparison (the table counts it); ours stops the run.
    [[ $tool == pssh || $tool == ansible ]] || exit 1
    printf '%s\t%s\t%s\t%s\tfailed\t\n' "$count" "$tool" "$scenario" "$run" >>"$results"
    return 0
  fi
  ms=$((($(date +%s%N) - start) / 1000000))
  cpu=$((($(cpu_ticks) - ticks) * 10 / ticks_per_second))  # tenths of a CPU-second
  printf '%s\t%s\t%s\t%s\t%d.%03d\t%d.%d\n' "$count" "$tool" "$scenario" "$run" $((ms / 1000)) $((ms % 1000)) \
    $((cpu / 10)) $((cpu % 10)) >>"$results"
  log "N=$count run $run: $tool $scenario $((ms / 1000)).$((ms % 1000 / 100)) s, $((cpu / 10)).$((cpu % 10)) CPU-s"
}

untimed() {  # untimed <log name> <command...>
  local logfile=$work/$count-$1.log
  shift
  "$@" >>"$logfile" 2>&1 || { echo "compare: $* failed:" >&2; tail -n 30 "$logfile" >&2; exit 1; }
}

record() {  # record <tool> <scenario> <run> <seconds>
  printf '%s\t%s\t%s\t%s\t%s\t\n' "$count" "$1" "$2" "$3" "$4" >>"$results"
  log "N=$count run $3: $1 $2 $4 s"
}

# cluster-deploy with --warm, its agent in this script's own runtime folder (stopped at the end).
warm() {  # warm <command> <args...>
  local command=$1
  shift
  XDG_RUNTIME_DIR=$work/runtime "$helper" "$command" --warm 300 "$@"
}

# The floors.
ssh_true() { each_node "ssh -F '$ssh_config' {} true"; }

scp_files() {  # every node's files (the same as the tools send) to its home folder at once
  local node
  for node in "${nodes[@]}"; do
    local binary=$worker_binary
    [[ $node == server* ]] && binary=$etcd_binary
    find "$binary" "$dir_n/cluster-deploy/render/$node" -type f >"$work/files-$node"
  done
  each_node "xargs -a '$work/files-{}' sh -c 'scp -q -F \"$ssh_config\" \"\$@\" {}:' scp"
}

clean_home() { each_node "ssh -F '$ssh_config' {} 'find . -maxdepth 1 -type f ! -name \".*\" -delete'"; }

# restart_floor <service> <healthy|active> <node...>: one restart of the service on these nodes at
# once until healthy (or active), timed on the nodes (restart-until-healthy.sh); prints the slowest
# node's seconds.
restart_floor() {
  local service=$1 until=$2 node
  shift 2
  rm -f "$work"/restart-*
  for node in "$@"; do
    ssh -F "$ssh_config" "$node" sudo bash -s -- "$service" "$until" <"$bench/restart-until-healthy.sh" >"$work/restart-$node" &
  done
  wait
  [[ $(cat "$work"/restart-* | grep -c .) -eq $# ]] || { echo "compare: $service did not come back on every node" >&2; return 1; }
  sort -n "$work"/restart-* | tail -n 1 | awk '{printf "%d.%03d\n", $1 / 1000, $1 % 1000}'
}

# The restarts the floors count, on the example cluster as cluster-deploy left it running:
# restart = every worker at once; worker-batches = the example's worker batches (canary, then
# SERIAL 50%) one after another, each until healthy; etcd-start = the bootstrap server until
# active; etcd = every server stopped and its data removed, then started at once (the group
# founded anew, as in a first deploy) until healthy; settle = the example's settle window.
measure_restarts() {
  local run=$1 servers=() workers=() node size seconds total=0 offset=0
  for node in "${nodes[@]}"; do
    if [[ $node == server* ]]; then servers+=("$node"); else workers+=("$node"); fi
  done
  record floor restart "$run" "$(restart_floor worker healthy "${workers[@]}")"
  for size in "${worker_batches[@]}"; do
    seconds=$(restart_floor worker healthy "${workers[@]:offset:size}")
    total=$(awk -v a="$total" -v b="$seconds" 'BEGIN {printf "%.3f", a + b}')
    offset=$((offset + size))
  done
  record floor worker-batches "$run" "$total"
  record floor etcd-start "$run" "$(restart_floor etcd active "${servers[0]}")"
  restart_floor etcd wipe "${servers[@]}" >/dev/null  # every server stopped, its data gone: then all start
  record floor etcd "$run" "$(restart_floor etcd healthy "${servers[@]}")"
  record floor settle "$run" "$settle"
}

ansible_env=()
ansible_run() {  # ansible_run <playbook|adhoc> <render dir>
  local render=${2:-}
  if [[ $1 == playbook ]]; then
    env "${ansible_env[@]}" ansible-playbook -i "$dir_n/inventory.ini" "$bench/ansible/deploy.yml" \
      -e name=bench-ansible -e "render=$render" -e "etcd_program=$etcd_binary" -e "worker_program=$worker_binary"
  else
    env "${ansible_env[@]}" ansible -i "$dir_n/inventory.ini" all -m ansible.builtin.command \
      -a "systemctl show --property=Id,ActiveState,SubState,MainPID,ActiveEnterTimestamp,NRestarts bench-ansible-*.service"
  fi
}

# once_more <command...>: the command, and once more if it failed. For the competitors' untimed
# removals: at 103 nodes, 2 of pssh's 103 connections once failed with exit 255 while the
# workers stopped, and the run is worth more than that.
once_more() { "$@" || { log "again: $*"; "$@"; }; }

pssh_run() {  # pssh_run <deploy|status|clean> [render dir]
  if [[ $1 == deploy ]]; then
    "$bench/pssh-deploy.sh" deploy bench-pssh "$ssh_config" "$nodes_file" "$2" "$etcd_binary" "$worker_binary"
  else
    "$bench/pssh-deploy.sh" "$1" bench-pssh "$ssh_config" "$nodes_file"
  fi
}

one_run() {
  local run=$1 cd=$dir_n/cluster-deploy seconds
  timed floor ssh-true "$run" ssh_true
  timed floor scp "$run" scp_files
  clean_home

  timed cluster-deploy first "$run" "$helper" deploy --plan "$cd/plan.xml"
  # The floor of the unchanged deploy and status, in the state they run in: every service up.
  timed floor ssh-true-running "$run" ssh_true
  timed cluster-deploy unchanged "$run" "$helper" deploy --plan "$cd/plan.xml"
  grep -q ' nothing changed on any node$' "$work/$count-cluster-deploy-unchanged-$run.log" ||
    { echo "compare: the unchanged deploy changed something" >&2; exit 1; }
  timed cluster-deploy config "$run" "$helper" deploy --plan "$cd/changed/plan.xml"
  timed cluster-deploy status "$run" "$helper" status --plan "$cd/plan.xml"
  measure_restarts "$run"
  untimed clean-cluster-deploy "$helper" clean --plan "$cd/plan.xml" --purge-data

  # The same with --warm: an agent of this script's own keeps one SSH session per node open
  # between the runs (from the second run on, the first deploy starts with warm sessions too).
  timed cluster-deploy-warm first "$run" warm deploy --plan "$cd/plan.xml"
  timed cluster-deploy-warm unchanged "$run" warm deploy --plan "$cd/plan.xml"
  grep -q ' nothing changed on any node$' "$work/$count-cluster-deploy-warm-unchanged-$run.log" ||
    { echo "compare: the unchanged warm deploy changed something" >&2; exit 1; }
  timed cluster-deploy-warm config "$run" warm deploy --plan "$cd/changed/plan.xml"
  timed cluster-deploy-warm status "$run" warm status --plan "$cd/plan.xml"
  untimed clean-cluster-deploy-warm warm clean --plan "$cd/plan.xml" --purge-data

  # The policy-free variant: the same files and tool, every service in one batch, no settle window.
  local free=$dir_n/cluster-deploy-free
  timed cluster-deploy-free first "$run" "$helper" deploy --plan "$free/plan.xml"
  timed cluster-deploy-free unchanged "$run" "$helper" deploy --plan "$free/plan.xml"
  timed cluster-deploy-free config "$run" "$helper" deploy --plan "$free/changed/plan.xml"
  timed cluster-deploy-free status "$run" "$helper" status --plan "$free/plan.xml"
  untimed clean-cluster-deploy-free "$helper" clean --plan "$free/plan.xml" --purge-data

  timed pssh first "$run" pssh_run deploy "$dir_n/bench-pssh/render"
  timed pssh unchanged "$run" pssh_run deploy "$dir_n/bench-pssh/render"
  timed pssh config "$run" pssh_run deploy "$dir_n/bench-pssh/changed/render"
  timed pssh status "$run" pssh_run status
  untimed clean-pssh once_more pssh_run clean

  ((run <= ansible_runs)) || return 0
  timed ansible first "$run" ansible_run playbook "$dir_n/bench-ansible/render"
  timed ansible unchanged "$run" ansible_run playbook "$dir_n/bench-ansible/render"
  ! grep -Eq 'changed=[1-9]' "$work/$count-ansible-unchanged-$run.log" ||
    { echo "compare: the unchanged Ansible run changed something" >&2; exit 1; }
  timed ansible config "$run" ansible_run playbook "$dir_n/bench-ansible/changed/render"
  timed ansible status "$run" ansible_run adhoc
  # The same removal as the pssh script's (an Ansible clean playbook would be slower, and it is not timed).
  untimed clean-ansible once_more "$bench/pssh-deploy.sh" clean bench-ansible "$ssh_config" "$nodes_file"
}

install_tools
started=$(date +%s)
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for count in $node_counts; do
  setup "$count"
  mkdir -p "$work/ansible/cp" "$work/ansible/home"
  ansible_env=(ANSIBLE_CONFIG="$bench/ansible/ansible.cfg" ANSIBLE_HOME="$work/ansible/home"
    ANSIBLE_SSH_CONTROL_PATH_DIR="$work/ansible/cp" ANSIBLE_NOCOLOR=1)
  ((ansible_runs == 0)) || log "warming up Ansible (python on the nodes compiles what it imports)"
  ((ansible_runs == 0)) || untimed setup env "${ansible_env[@]}" ansible -i "$dir_n/inventory.ini" all -b -m ansible.builtin.stat -a path=/
  for ((run = 1; run <= runs; run++)); do one_run "$run"; done
  log "taking $count nodes down"
  take_down
done

[[ -z $raw ]] || cp "$results" "$raw"
python3 "$bench/compare_table.py" "$results" --runs "$runs" --ansible-runs "$ansible_runs" \
  --minutes $((($(date +%s) - started + 59) / 60)) --load "$load_before" >"$out"
