#!/usr/bin/env python3
"""Prints the batch sizes in which a deploy restarts a service on N running nodes, one a line:
the rule of batch_sizes() in tools/cluster-deploy/src/rollout.cpp (CANARY first, then SERIAL
<n> or <n>% of the group, a quorum group never more than floor((n-1)/2) at once).
tools/bench/compare.sh times those batches for the config change's fair floor.

  batch_sizes.py PLAN SERVICE N
"""
import sys
import xml.etree.ElementTree as ET


def main():
    plan, name, nodes = sys.argv[1], sys.argv[2], int(sys.argv[3])
    service = ET.parse(plan).getroot().find(f"service[@name='{name}']")
    serial = service.get("serial")
    if serial is None:
        size = nodes
    elif serial.endswith("%"):
        size = max(1, (nodes * int(serial[:-1]) + 99) // 100)
    else:
        size = max(1, int(serial))
    if service.find("quorum") is not None or service.find("leader") is not None:
        size = min(size, max(1, (nodes - 1) // 2))
    sizes, left = [], nodes
    canary = int(service.get("canary", "0"))
    if canary > 0 and left > 0:
        sizes.append(min(canary, size, left))
        left -= sizes[-1]
    while left > 0:
        sizes.append(min(size, left))
        left -= sizes[-1]
    print("\n".join(map(str, sizes)))


if __name__ == "__main__":
    main()
