#!/usr/bin/env bash
# Two node scripts of a switch, run for real as root on a worker, for a cluster of this test's
# own (cdtswitch: its account, folders and unit are made here and removed at the end), so the
# example cluster is not touched:
# - activate.sh keeps the new release, the one it left and the three newest others, and removes
#   the rest; switching to the release already current, the newest three others stay.
# - record-started.sh as the last step of a health look records a start only after a passing
#   probe (the batch's $cd_status 0) while the unit runs, as the main process given if one is,
#   and, when given, only for a unit active at least and at most so many milliseconds.
source "$(dirname "$0")/lib.sh"
require_env
remote=$HELPER_DIR/../../tools/cluster-deploy/remote
node=$(nodes_in_group workers | head -n 1)
c=cdtswitch
payload=$(tar -C "$remote" -czf - activate.sh record-started.sh prelude.sh | base64 -w0)
scratch=$(on_node "$node" "d=\$(mktemp -d) && echo $payload | base64 -d | tar -C \$d -xzf - && echo \$d")
[[ $scratch == /tmp/* ]] || fail "could not copy the scripts to $node"
remove_scratch() {
  on_node "$node" "sudo sh -c 'systemctl stop $c-svc.service 2>/dev/null; userdel $c 2>/dev/null
    rm -rf /opt/$c /var/lib/$c $scratch'" || true
}
trap 'remove_scratch; drop_work' EXIT

# --- prune: releases r1 (oldest) to r7 (newest); r6 is current
on_node "$node" "sudo sh -c 'set -e; mkdir -p /opt/$c/releases /var/lib/$c
  echo \"cluster-deploy $c\" >/opt/$c/.cluster-deploy; echo \"cluster-deploy $c\" >/var/lib/$c/.cluster-deploy
  for i in 1 2 3 4 5 6 7; do mkdir /opt/$c/releases/r\$i; : >/opt/$c/releases/r\$i/MANIFEST
    touch -d \"-\$((10 - i)) min\" /opt/$c/releases/r\$i; done
  ln -s releases/r6 /opt/$c/current'" || fail "could not make the releases on $node"

switch_to() {  # switch_to <release>: runs activate.sh there, prints what is left, newest first
  on_node "$node" "sudo sh -c 'cd $scratch && sh activate.sh $c $1 test >/dev/null && ls -1t /opt/$c/releases | tr \"\\n\" \" \"'"
}
left=$(switch_to r7)
[[ $left == "r7 r6 r5 r4 r3 " ]] || fail "switching from r6 to r7 left: $left (want r7 r6 r5 r4 r3)"
left=$(switch_to r7)
[[ $left == "r7 r6 r5 r4 " ]] || fail "switching to r7, already current, left: $left (want r7 r6 r5 r4)"
[[ $(on_node "$node" "readlink /opt/$c/current") == releases/r7 ]] || fail "current does not point to r7"

# --- record-started.sh after a look's probe: its unit is a transient one of this test's
on_node "$node" "sudo systemd-run --quiet --unit=$c-svc.service sleep 300" || fail "could not start $c-svc on $node"
pid=$(on_node "$node" "systemctl show -p MainPID --value $c-svc.service")
# record <probe's status> <main pid|running> <digest> [<least ms> <most ms>]: "<exit status> <what is recorded>"
# ($began: the look batch's start by the node's clock, $cd_began, when set)
record() {
  on_node "$node" "sudo sh -c 'cd $scratch; cd_status=$1 ${began:+cd_began=$began} sh record-started.sh $c svc $3 $2 ${4:-} ${5:-}; echo \$? \$(cat /opt/$c/started/svc 2>/dev/null)'"
}
[[ $(record 1 running d1) == "3" ]] || fail "a start was recorded after a failing probe"
[[ $(record 0 1 d1) == "3" ]] || fail "a start was recorded while another process ran"
[[ $(record 0 running d1) == "0 d1" ]] || fail "no start recorded for a running unit after a passing probe"
[[ $(record 0 "$pid" d2) == "0 d2" ]] || fail "no start recorded for the process given ($pid)"
# A look after the window since the start was asked for: as old as the window, not older than the ask.
[[ $(record 0 running d3 600000 700000) == "3 d2" ]] || fail "a start was recorded before its window passed"
[[ $(record 0 running d3 0 1) == "3 d2" ]] || fail "a start was recorded for a process older than the ask"
# The look's own time counts too: a batch that began at boot (0.00) allows any process since.
[[ $(began=0.00 record 0 running d3 0 1) == "0 d3" ]] || fail "the look batch's own time was not counted (\$cd_began)"
[[ $(record 0 running d4 0 600000) == "0 d4" ]] || fail "no start recorded for a unit active through its window"
on_node "$node" "sudo systemctl stop $c-svc.service"
[[ $(record 0 running d5) == "3 d4" ]] || fail "a start was recorded for a unit that does not run"
say "switch scripts: the prune keeps the new, the previous and three more; a look records only a healthy start"
