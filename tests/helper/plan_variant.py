#!/usr/bin/env python3
"""Writes a variant of a ClusterDeploy plan for tests: same services, with some
inputs swapped (inventory, output folder, ssh_config, a template, a program).

  plan_variant.py PLAN OUT_DIR [--inventory DIR] [--ssh-config FILE]
                  [--template SERVICE=FILE] [--program SERVICE=FILE]
                  [--health-exec SERVICE=COMMAND] [--no-faults] [--no-corrupt]
                  [--cluster NAME] [--only SERVICE] [--limit SERVICE=Setting=value] [--env SERVICE=NAME=value]
                  [--bundle-libs SERVICE[=true|all|none]] [--independent SERVICE] [--settle SERVICE=SECONDS]
                  [--group SERVICE=GROUP] [--after SERVICE=OTHER] [--quorum SERVICE=COMMAND]
                  [--policy-free]

Prints the path of the new plan (OUT_DIR/plan.xml); rendered files go to OUT_DIR/render.
"""
import argparse
import os
import sys
import xml.etree.ElementTree as ET


def pairs(values):
    return dict(v.split("=", 1) for v in values or [])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("plan")
    parser.add_argument("out_dir")
    parser.add_argument("--inventory")
    parser.add_argument("--ssh-config")
    parser.add_argument("--template", action="append")
    parser.add_argument("--program", action="append")
    parser.add_argument("--health-exec", action="append")
    parser.add_argument("--no-faults", action="store_true", help="as an inventory without FAULTS")
    parser.add_argument("--no-corrupt", action="store_true", help="as an inventory with FAULTS, not CORRUPT_FAULTS")
    parser.add_argument("--cluster", help="another cluster name: nothing shared with the original on the nodes")
    parser.add_argument("--only", help="keep this service only")
    parser.add_argument("--limit", action="append", help="add a <limit> (LIMITS Setting=value) to SERVICE")
    parser.add_argument("--env", action="append", help="add an <env> (ENV NAME=value) to SERVICE")
    parser.add_argument("--bundle-libs", action="append",
                        help="SERVICE[=true|all|none]: BUNDLE_LIBS (true, the default), BUNDLE_LIBS ALL, or neither")
    parser.add_argument("--independent", action="append", help="SERVICE runs AFTER nothing")
    parser.add_argument("--settle", action="append", help="SERVICE's own settle window (SETTLE)")
    parser.add_argument("--group", action="append", help="SERVICE runs on GROUP's nodes instead")
    parser.add_argument("--after", action="append", help="SERVICE runs AFTER OTHER (and nothing else)")
    parser.add_argument("--quorum", action="append", help="SERVICE's QUORUM exec command")
    parser.add_argument("--policy-free", action="store_true",
                        help="every service in one batch: no SERIAL, CANARY, BOOTSTRAP, QUORUM, LEADER, TRANSFER; SETTLE 0")
    args = parser.parse_args()

    tree = ET.parse(args.plan)
    root = tree.getroot()
    root.set("output", os.path.join(args.out_dir, "render"))
    if args.inventory:
        root.set("inventory", args.inventory)
    if args.cluster:
        root.set("cluster", args.cluster)
    if args.no_faults and "faults" in root.attrib:
        del root.attrib["faults"]
    if args.no_corrupt and root.get("faults") == "corrupt":
        root.set("faults", "allowed")
    if args.ssh_config:
        root.find("ssh").set("config", args.ssh_config)
    if args.only:
        for service in root.findall("service"):
            if service.get("name") != args.only:
                root.remove(service)
            else:
                for after in service.findall("after"):
                    service.remove(after)
    for entry in args.env or []:
        name, assignment = entry.split("=", 1)
        service = root.find(f"service[@name='{name}']")
        ET.SubElement(service, "env", {"name": assignment.split("=", 1)[0], "value": assignment.split("=", 1)[1]})
    for entry in args.limit or []:
        name, setting = entry.split("=", 1)
        service = root.find("service[@name='%s']" % name)
        ET.SubElement(service, "limit", {"name": setting.split("=", 1)[0], "value": setting.split("=", 1)[1]})
    for name in args.independent or []:
        service = root.find(f"service[@name='{name}']")
        for after in service.findall("after"):
            service.remove(after)
    for name, seconds in pairs(args.settle).items():
        root.find(f"service[@name='{name}']").set("settle", seconds)
    for name, group in pairs(args.group).items():
        root.find(f"service[@name='{name}']").set("group", group)
    for name, other in pairs(args.after).items():
        service = root.find(f"service[@name='{name}']")
        for after in service.findall("after"):
            service.remove(after)
        ET.SubElement(service, "after").text = other
    for name, command in pairs(args.quorum).items():
        root.find(f"service[@name='{name}']/quorum").set("command", command)
    if args.policy_free:
        for service in root.findall("service"):
            for attribute in ("serial", "canary", "bootstrap"):
                service.attrib.pop(attribute, None)
            service.set("settle", "0")
            for gate in service.findall("quorum") + service.findall("leader") + service.findall("transfer"):
                service.remove(gate)
    templates, programs, probes = pairs(args.template), pairs(args.program), pairs(args.health_exec)
    bundles = dict((e.split("=", 1) + ["true"])[:2] for e in args.bundle_libs or [])
    for service in root.findall("service"):
        name = service.get("name")
        if name in templates:
            service.find("config").set("template", templates[name])
        if bundles.get(name) == "none":
            service.attrib.pop("bundle-libs", None)
        elif name in bundles:
            service.set("bundle-libs", bundles[name])
        if name in programs:
            service.find("program").text = programs[name]
        if name in probes:
            health = service.find("health")
            health.attrib.clear()
            health.set("kind", "exec")
            health.set("command", probes[name])
    os.makedirs(args.out_dir, exist_ok=True)
    path = os.path.join(args.out_dir, "plan.xml")
    tree.write(path, encoding="UTF-8", xml_declaration=True)
    print(path)


if __name__ == "__main__":
    sys.exit(main())
