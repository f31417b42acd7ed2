#!/usr/bin/env bash
# A slow link and a one-way cut (issue 25), as the nodes see them. `fault slow --rate 4mbit`
# makes 5 MB from a worker to a server take about the 10 s the rate implies (within 30 %),
# where it takes well under a second before and after heal. `fault partition --one-way` drops
# only what reaches the target: UDP datagrams from the worker still arrive at the server, the
# server's to the worker do not.
source "$(dirname "$0")/lib.sh"
require_env

plan=$CLUSTER_DEPLOY_PLAN
server=$(nodes_in_group servers | head -n 1)
worker=$(nodes_in_group workers | head -n 1)
address_of() { awk -v n="$1" '$1 == n { print $2 }' "$CLUSTER_DEPLOY_NODES"; }
server_address=$(address_of "$server")
worker_address=$(address_of "$worker")
port=47123
trap '"$CLUSTER_DEPLOY" heal --plan "$plan" >/dev/null 2>&1 || true; drop_work' EXIT

# transfer_ms: milliseconds for 5 MB from the worker to the server over TCP, until the server
# says it has them all. The server's side is perl (every Debian node has perl-base).
transfer_ms() {
  # shellcheck disable=SC2016 # perl's variables, for perl
  on_node "$server" "setsid timeout 60 perl -MIO::Socket::INET -e '
    my \$l = IO::Socket::INET->new(LocalPort => $port, Listen => 1, ReuseAddr => 1) or die \"listen: \$!\";
    my \$c = \$l->accept; my (\$n, \$b) = (0, q());
    while (\$n < 5000000) { my \$r = sysread(\$c, \$b, 65536); last unless \$r; \$n += \$r }
    print \$c qq(got \$n\n);' </dev/null >/dev/null 2>&1 & sleep 0.5"
  on_node "$worker" "bash -c 'exec 3<>/dev/tcp/$server_address/$port; s=\$(date +%s%N)
    head -c 5000000 /dev/zero >&3; read -r -t 60 reply <&3; e=\$(date +%s%N)
    [ \"\$reply\" = \"got 5000000\" ] && echo \$(( (e - s) / 1000000 ))'"
}

# datagrams <from> <to> <to's address>: how many of 5 UDP datagrams from one node reach the other.
datagrams() {
  # shellcheck disable=SC2016 # perl's variables, for perl
  on_node "$2" "setsid timeout 10 perl -MIO::Socket::INET -e '
    my \$s = IO::Socket::INET->new(LocalPort => $port, Proto => q(udp)) or die \"udp: \$!\"; my \$n = 0;
    eval { local \$SIG{ALRM} = sub { die }; alarm 3; while (\$s->recv(my \$b, 100)) { \$n++ } };
    print qq(\$n\n);' </dev/null >/tmp/cd-datagrams 2>&1 & sleep 0.5"
  on_node "$1" "bash -c 'for i in 1 2 3 4 5; do echo \$i >/dev/udp/$3/$port; done'"
  sleep 3
  on_node "$2" "cat /tmp/cd-datagrams; rm -f /tmp/cd-datagrams"
}

before=$(transfer_ms)
((before < 1500)) || fail "5 MB took $before ms before the fault"
run_helper 0 "$WORK/slow.log" fault slow "$worker" --from "$server" --rate 4mbit --for 120 --plan "$plan"
grep -q "$worker: takes at most 4mbit from each of $server" "$WORK/slow.log" || fail "the fault does not say what it does"
during=$(transfer_ms)
# 5 MB at 4 Mbit/s (500 kB/s) is 10 s; nft's limit lets a burst of about a second's worth through.
((during >= 7000 && during <= 13000)) || fail "5 MB took $during ms over a 4mbit link (10000 ms implied, ±30 %)"
run_helper 0 "$WORK/status.log" status --plan "$plan"
grep -E "^$worker .*slow\(" "$WORK/status.log" >/dev/null || fail "status does not show the slow link on $worker"
run_helper 0 "$WORK/heal.log" heal --plan "$plan"
after=$(transfer_ms)
((after < 1500)) || fail "5 MB took $after ms after heal"
say "slow: 5 MB in $before ms, $during ms at 4mbit (10000 implied), $after ms after heal"

run_helper 0 "$WORK/one-way.log" fault partition "$worker" --from "$server" --one-way --for 120 --plan "$plan"
grep -q "$worker: hears nothing from $server" "$WORK/one-way.log" || fail "the one-way cut does not say what it does"
to_server=$(datagrams "$worker" "$server" "$server_address")
to_worker=$(datagrams "$server" "$worker" "$worker_address")
((to_server == 5 && to_worker == 0)) ||
  fail "one-way cut of $worker from $server: $to_server of 5 datagrams reached $server, $to_worker of 5 reached $worker"
run_helper 0 "$WORK/heal.log" heal --plan "$plan"
back=$(datagrams "$server" "$worker" "$worker_address")
((back == 5)) || fail "after heal $back of 5 datagrams from $server reached $worker"
say "ok: one-way: $to_server of 5 datagrams reached $server, $to_worker of 5 reached $worker; $back of 5 after heal"
