#!/usr/bin/env python3
"""Turns tools/bench/compare.sh's measurements into the markdown table of docs/benchmarks.md.

  compare_table.py RESULTS.tsv [--runs R] [--ansible-runs R] [--minutes M]

RESULTS.tsv: one measurement a line: nodes, tool, scenario, run, seconds (tab-separated).
Every cell is the median of the runs; the ratios are of medians.
"""
import argparse
import statistics
from collections import defaultdict

SCENARIOS = [
    # scenario, its floor (as text), target for cluster-deploy against the floor
    ("first", "first deploy", "scp + restart", "≤ 1.3× floor"),
    ("unchanged", "unchanged deploy", "ssh true", "≤ 1.5× floor"),
    ("config", "every worker's config changed", "ssh true + restart", "≤ floor + 1 s"),
    ("status", "status", "ssh true", "≤ 1.3× floor"),
]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("results")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--ansible-runs", type=int, default=3)
    parser.add_argument("--minutes", type=int)
    parser.add_argument("--load", help="the host's load averages when the run started")
    args = parser.parse_args()

    samples = defaultdict(list)
    with open(args.results) as results:
        for line in results:
            nodes, tool, scenario, _run, seconds = line.split("\t")
            samples[int(nodes), tool, scenario].append(float(seconds))
    median = {key: statistics.median(values) for key, values in samples.items()}

    def get(nodes, tool, scenario):
        return median.get((nodes, tool, scenario))

    def floor_of(nodes, scenario):
        ssh, scp, restart = (get(nodes, "floor", s) for s in ("ssh-true", "scp", "restart"))
        return {"first": scp + restart, "unchanged": ssh, "config": ssh + restart, "status": ssh}[scenario]

    def met(ok):
        return "yes" if ok else "**no**"

    def table(ours_tool, name):
        print(f"| nodes | scenario | floor | floor (s) | {name} (s) | vs floor | target met | pssh script (s) "
              f"| pssh ÷ {name} (≥ 3) | Ansible (s) | Ansible ÷ {name} (≥ 10) |")
        print("|---|---|---|---|---|---|---|---|---|---|---|")
        for nodes in sorted({key[0] for key in samples}):
            for scenario, title, floor_text, target in SCENARIOS:
                floor = floor_of(nodes, scenario)
                ours = get(nodes, ours_tool, scenario)
                if scenario == "config":
                    versus = f"floor + {ours - floor:.1f} s"
                    ok = ours - floor <= 1.0
                else:
                    limit = 1.3 if scenario in ("first", "status") else 1.5
                    versus = f"{ours / floor:.2f}×"
                    ok = ours / floor <= limit
                row = [str(nodes), title, floor_text, f"{floor:.1f}", f"{ours:.1f}", versus, f"{met(ok)} ({target})"]
                for tool, goal in (("pssh", 3), ("ansible", 10)):
                    theirs = get(nodes, tool, scenario)
                    if theirs is None:
                        row += ["-", "-"]
                    else:
                        row += [f"{theirs:.1f}", f"{theirs / ours:.1f}× ({met(theirs / ours >= goal)})"]
                print("| " + " | ".join(row) + " |")

    table("cluster-deploy", "cluster-deploy")
    if any(key[1] == "cluster-deploy-warm" for key in samples):
        print()
        print("With `--warm 300` (an agent of the user's keeps one SSH session per node open between runs):")
        print()
        table("cluster-deploy-warm", "cluster-deploy --warm")
    print()
    floors = []
    for nodes in sorted({key[0] for key in samples}):
        parts = ", ".join(f"{name} {get(nodes, 'floor', name):.1f} s" for name in ("ssh-true", "scp", "restart"))
        floors.append(f"{nodes} nodes: {parts}")
    print("Floors (medians): " + "; ".join(floors) + ".")
    counts = sorted({len(v) for k, v in samples.items() if k[1] != "ansible"})
    ansible_counts = sorted({len(v) for k, v in samples.items() if k[1] == "ansible"})
    print(f"Runs per cell: {'/'.join(map(str, counts))} (Ansible: {'/'.join(map(str, ansible_counts)) or '0'})."
          + (f" One full run of the script took {args.minutes} min." if args.minutes else "")
          + (f" Host load averages at the start: {args.load}." if args.load else ""))


if __name__ == "__main__":
    main()
