#!/usr/bin/env python3
"""Turns tools/bench/compare.sh's measurements into the markdown tables of docs/benchmarks.md.

  compare_table.py RESULTS.tsv [--runs R] [--ansible-runs R] [--minutes M] [--load LOAD]

RESULTS.tsv: one measurement a line: nodes, tool, scenario, run, seconds and, for timed commands,
the whole machine's CPU-seconds meanwhile (tab-separated); "failed" for seconds when another tool's
scenario failed in that run (compare.sh goes on). Every cell is the median of the runs that did not
fail; the ratios are of medians; the failed runs are listed under the tables.

Fair floors count what the plan's policy itself requires, from the floors measured in the same
run: the transfer (ssh true, or scp of every node's files) plus, per dependent step, one restart
until healthy (timed on the nodes) and the settle window where the policy has one.
"""
import argparse
import statistics
from collections import defaultdict

TITLES = {
    "first": "first deploy",
    "unchanged": "unchanged deploy",
    "config": "every worker's config changed",
    "status": "status",
}

# The example's policy: etcd's bootstrap server, then the other two, settled; then the workers (first
# starts are not rolled), settled. A config change restarts the workers in their batches (canary,
# then SERIAL 50%), gated by health, the canary settled.
POLICY_FLOORS = {
    "first": ("scp + etcd start + etcd + settle + workers + settle",
              lambda f: f["scp"] + f["etcd-start"] + f["etcd"] + f["settle"] + f["restart"] + f["settle"]),
    "unchanged": ("ssh true, services up", lambda f: running(f)),
    "config": ("ssh true + worker batches + settle", lambda f: f["ssh-true"] + f["worker-batches"] + f["settle"]),
    "status": ("ssh true, services up", lambda f: running(f)),
}
# Policy-free: every service in one batch, servers before workers, no settle window.
FREE_FLOORS = {
    "first": ("scp + etcd + workers", lambda f: f["scp"] + f["etcd"] + f["restart"]),
    "unchanged": ("ssh true, services up", lambda f: running(f)),
    "config": ("ssh true + workers", lambda f: f["ssh-true"] + f["restart"]),
    "status": ("ssh true, services up", lambda f: running(f)),
}
FLOOR_PARTS = ("ssh-true", "ssh-true-running", "scp", "etcd-start", "etcd", "restart", "worker-batches", "settle")


def running(f):
    """`ssh true` with every service up, the state an unchanged deploy and status run in (measurements
    from before it was taken have only the one before anything runs)."""
    return f["ssh-true-running"] if f.get("ssh-true-running") is not None else f["ssh-true"]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("results")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--ansible-runs", type=int, default=3)
    parser.add_argument("--minutes", type=int)
    parser.add_argument("--load", help="the host's load averages when the run started")
    args = parser.parse_args()

    samples, cpu, failed = defaultdict(list), defaultdict(list), defaultdict(list)
    with open(args.results) as results:
        for line in results:
            fields = line.rstrip("\n").split("\t")
            key = (int(fields[0]), fields[1], fields[2])
            if fields[4] == "failed":
                failed[key].append(fields[3])
                continue
            samples[key].append(float(fields[4]))
            if len(fields) > 5 and fields[5]:
                cpu[key].append(float(fields[5]))
    median = {key: statistics.median(values) for key, values in samples.items()}
    cpu_median = {key: statistics.median(values) for key, values in cpu.items()}
    counts = sorted({key[0] for key in samples})

    def get(nodes, tool, scenario):
        return median.get((nodes, tool, scenario))

    def seconds(nodes, tool, scenario):
        """'wall s (CPU-s)', or '-' when the tool did not run."""
        wall = get(nodes, tool, scenario)
        if wall is None:
            return "failed" if (nodes, tool, scenario) in failed else "-"
        used = cpu_median.get((nodes, tool, scenario))
        return f"{wall:.1f}" + (f" ({used:.0f})" if used is not None else "")

    def floors(nodes):
        return {part: get(nodes, "floor", part) for part in FLOOR_PARTS}

    def versus_floor(ours, floor, scenario):
        """How far from the floor, and whether it meets issue 26's target."""
        if scenario in ("unchanged", "status"):
            return f"{ours / floor:.2f}×", ours / floor <= 1.2, "≤ 1.2× floor"
        return f"floor {ours - floor:+.1f} s", ours - floor <= 1.0, "≤ floor + 1 s"

    def met(ok):
        return "yes" if ok else "**no**"

    def policy_table(tool, name):
        print(f"| nodes | scenario | fair floor | floor (s) | {name} (s (CPU-s)) | vs floor | target met |")
        print("|---|---|---|---|---|---|---|")
        for nodes in counts:
            for scenario, title in TITLES.items():
                text, formula = POLICY_FLOORS[scenario]
                floor, ours = formula(floors(nodes)), get(nodes, tool, scenario)
                if ours is None:
                    continue
                versus, ok, target = versus_floor(ours, floor, scenario)
                print(f"| {nodes} | {title} | {text} | {floor:.1f} | {seconds(nodes, tool, scenario)} | {versus} "
                      f"| {met(ok)} ({target}) |")

    def free_table():
        print("| nodes | scenario | floor | floor (s) | cluster-deploy (s (CPU-s)) | vs floor | pssh script (s (CPU-s)) "
              "| pssh ÷ cluster-deploy (≥ 3) | Ansible (s (CPU-s)) | Ansible ÷ cluster-deploy (≥ 10) |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        for nodes in counts:
            for scenario, title in TITLES.items():
                text, formula = FREE_FLOORS[scenario]
                floor, ours = formula(floors(nodes)), get(nodes, "cluster-deploy-free", scenario)
                if ours is None:
                    continue
                versus, _, _ = versus_floor(ours, floor, scenario)
                row = [str(nodes), title, text, f"{floor:.1f}", seconds(nodes, "cluster-deploy-free", scenario), versus]
                for tool, goal in (("pssh", 3), ("ansible", 10)):
                    theirs = get(nodes, tool, scenario)
                    row.append(seconds(nodes, tool, scenario))
                    if theirs is None:
                        row.append("-")
                    elif scenario == "status":
                        row.append(f"{theirs / ours:.1f}×")  # their status is one `systemctl show`: the floor itself
                    else:
                        row.append(f"{theirs / ours:.1f}× ({met(theirs / ours >= goal)})")
                print("| " + " | ".join(row) + " |")

    print("The example's policy (etcd `SERIAL 1` with its quorum gate, workers `SERIAL 50% CANARY 1 AFTER etcd`, "
          "2 s settle window):")
    print()
    policy_table("cluster-deploy", "cluster-deploy")
    if any(key[1] == "cluster-deploy-warm" for key in samples):
        print()
        print("The same with `--warm 300` (an agent of the user's keeps one SSH session per node open between runs):")
        print()
        policy_table("cluster-deploy-warm", "cluster-deploy --warm")
    if any(key[1] == "cluster-deploy-free" for key in samples):
        print()
        print("Policy-free, like for like with the two other tools (every service in one batch, no canary, no settle "
              "window, no quorum gate; servers before workers):")
        print()
        free_table()
    print()
    lines = []
    for nodes in counts:
        parts = ", ".join(f"{part} {value:.1f} s" for part, value in floors(nodes).items() if value is not None)
        lines.append(f"{nodes} nodes: {parts}")
    print("Floors (medians): " + "; ".join(lines) + ".")
    if failed:
        print("Failed, left out of the medians: " + "; ".join(
            f"{tool} {TITLES.get(scenario, scenario)} at {nodes} nodes (run {', '.join(runs)})"
            for (nodes, tool, scenario), runs in sorted(failed.items())) + ".")
    runs = sorted({len(v) for k, v in samples.items() if k[1] != "ansible"})
    ansible_runs = sorted({len(v) for k, v in samples.items() if k[1] == "ansible"})
    print(f"Runs per cell: {'/'.join(map(str, runs))} (Ansible: {'/'.join(map(str, ansible_runs)) or '0'})."
          + (f" One full run of the script took {args.minutes} min." if args.minutes else "")
          + (f" Host load averages at the start: {args.load}." if args.load else ""))


if __name__ == "__main__":
    main()
