#!/usr/bin/env bash
# Runs the loopback tests (argument 1: the Catch2 test binary; the rest go to it)
# against a throw-away sshd on 127.0.0.1 with its own host key, client key and
# known_hosts in a temp dir. Exit 77 (skipped) when no sshd is installed.
set -euo pipefail

test_binary=${1:?usage: run-loopback.sh <loopback test binary> [catch2 args...]}
shift
sshd=/usr/sbin/sshd
if [[ ! -x $sshd ]]; then
  echo "run-loopback: $sshd not found (apt-get install openssh-server): skipping" >&2
  exit 77
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/cd-loopback.XXXXXX")
sshd_pid=
agent_pid=
crowded_pid=
cleanup() {
  if [[ -n $sshd_pid ]]; then
    kill "$sshd_pid" 2>/dev/null || true
    wait "$sshd_pid" 2>/dev/null || true
  fi
  local pid
  for pid in $agent_pid $crowded_pid; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

free_port() {
  local port
  for port in $(shuf -i 20000-60000 -n 50); do
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return 0
    fi
  done
  echo "run-loopback: no free port found" >&2
  return 1
}

port=$(free_port)
ssh-keygen -q -t ed25519 -N '' -C loopback-host -f "$work/host_key"
ssh-keygen -q -t ed25519 -N '' -C loopback-client -f "$work/client_key"
ssh-keygen -q -t ed25519 -N '' -C loopback-other -f "$work/other_key"
cp "$work/client_key.pub" "$work/authorized_keys"

cat >"$work/sshd_config" <<CFG
ListenAddress 127.0.0.1
Port $port
HostKey $work/host_key
AuthorizedKeysFile $work/authorized_keys
PidFile $work/sshd.pid
UsePAM no
StrictModes no
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
AllowTcpForwarding yes
LogLevel ERROR
CFG

# OpenSSH refuses to start as root without its privilege separation directory.
if [[ $(id -u) == 0 && ! -d /run/sshd ]]; then
  mkdir -p -m 0755 /run/sshd
fi

"$sshd" -D -e -f "$work/sshd_config" 2>"$work/sshd.log" &
sshd_pid=$!

for _ in $(seq 1 100); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    break
  fi
  if ! kill -0 "$sshd_pid" 2>/dev/null; then
    echo "run-loopback: sshd exited:" >&2
    cat "$work/sshd.log" >&2
    exit 1
  fi
  sleep 0.1
done

echo "[127.0.0.1]:$port $(cut -d' ' -f1,2 "$work/host_key.pub")" >"$work/known_hosts"
echo "[127.0.0.1]:$port $(cut -d' ' -f1,2 "$work/other_key.pub")" >"$work/changed_known_hosts"
: >"$work/ssh_config"

# An ssh-agent holding the client key, for the test that logs in with the agent only
# (the other tests run without SSH_AUTH_SOCK).
ssh-agent -D -a "$work/agent.sock" >/dev/null &
agent_pid=$!
for _ in $(seq 1 100); do
  [[ -S $work/agent.sock ]] && break
  sleep 0.1
done
SSH_AUTH_SOCK=$work/agent.sock ssh-add -q "$work/client_key"
# An agent crowded with 6 keys the server does not accept (its MaxAuthTries is 6), for
# the IdentitiesOnly test.
ssh-agent -D -a "$work/crowded.sock" >/dev/null &
crowded_pid=$!
for i in 1 2 3 4 5 6; do
  ssh-keygen -q -t ed25519 -N '' -C "loopback-crowd$i" -f "$work/crowd$i"
done
for _ in $(seq 1 100); do
  [[ -S $work/crowded.sock ]] && break
  sleep 0.1
done
SSH_AUTH_SOCK=$work/crowded.sock ssh-add -q "$work"/crowd[1-6]

export CD_LOOPBACK_HOST=127.0.0.1
export CD_LOOPBACK_AGENT_SOCK=$work/agent.sock
export CD_LOOPBACK_CROWDED_AGENT_SOCK=$work/crowded.sock
export CD_LOOPBACK_PORT=$port
export CD_LOOPBACK_USER=${CD_LOOPBACK_USER:-$(id -un)}
export CD_LOOPBACK_KEY=$work/client_key
export CD_LOOPBACK_KNOWN_HOSTS=$work/known_hosts
export CD_LOOPBACK_CHANGED_KNOWN_HOSTS=$work/changed_known_hosts
export CD_LOOPBACK_SSH_CONFIG=$work/ssh_config
export CD_LOOPBACK_TMP=$work
unset SSH_AUTH_SOCK

rc=0
"$test_binary" "$@" || rc=$?
if [[ $rc != 0 ]]; then
  echo "run-loopback: sshd log:" >&2
  cat "$work/sshd.log" >&2 || true
fi
exit "$rc"
