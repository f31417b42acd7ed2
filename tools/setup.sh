#!/usr/bin/env bash
# ClusterDeploy quick start on Debian 12 (as root):
#   tools/setup.sh              install packages, build, boot the local cluster, deploy the
#                               example cluster, verify health and print its status
#   tools/setup.sh --deps-only  only install the Debian packages (what CI does first)
set -euo pipefail

readonly packages=(
  build-essential cmake ninja-build pkg-config git python3
  libssh-dev libspdlog-dev libfmt-dev libtinyxml2-dev catch2 libcli11-dev
  nlohmann-json3-dev libssl-dev libelf-dev
  ansible-core   # helper.ansible-inventory reads the Ansible export with ansible-inventory
  openssh-client openssh-server iproute2 systemd-container debootstrap shellcheck
  e2fsprogs      # mkfs.ext4: each local-cluster node's own disk (the disk-full fault)
  procps         # pgrep/pkill: tests look for the warm-session agent and the fan-out relay
  openssl        # a unit test runs the nodes' sha256_of (remote/prelude.sh) with openssl and without
  chromium       # helper.evidence opens a failed test's timeline.html headless
)

die() { echo "setup: error: $*" >&2; exit 2; }

install_packages() {
  local missing=()
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    echo "setup: all packages present"
    # The example cluster takes etcd out of Debian's etcd-server package: apt must know it.
    apt-cache show etcd-server >/dev/null 2>&1 || apt-get update -qq
    return
  fi
  echo "setup: installing ${missing[*]}"
  apt-get update -qq
  # A policy-rc.d keeps package scripts from starting services (openssh-server) on this
  # machine; one the machine already has is left as it is.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' RETURN
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  # The loopback tests need only the sshd binary: an sshd we installed must not start at boot.
  if [[ " ${missing[*]} " == *" openssh-server "* ]]; then
    systemctl disable ssh.service ssh.socket >/dev/null 2>&1 || true
    echo "setup: installed openssh-server for the tests and disabled its service"
  fi
}

main() {
  [ "$(id -u)" -eq 0 ] || die "run as root (the local cluster needs namespaces, mounts and containers): sudo $0 $*"
  cd "$(dirname "$0")/.."
  install_packages
  [ "${1:-}" = "--deps-only" ] && return 0
  cmake --workflow --preset local-deploy
}

main "$@"
