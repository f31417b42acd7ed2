# shellcheck shell=bash
# local-cluster: the base images nodes boot from, one per Debian release (debootstrap, cached
# by recipe and release; a node's release is its inventory field image=, bookworm by default).
# Sourced by local-cluster (beside it); uses its conventions and messages. See docs/local-cluster.md.

# THE RECIPE. The image cache key is the sha256 of this function's text and the release, so
# any change here rebuilds the images (into new cache directories). The releases differ only
# in libssl's package name.
image_recipe() {
    local dir=$1 mirror=$2 release=$3 unit libssl
    case $release in
        bullseye) libssl=libssl1.1 ;;
        bookworm) libssl=libssl3 ;;
        trixie) libssl=libssl3t64 ;; # renamed for the 64-bit time_t transition
        *) echo "no recipe for Debian release '$release'" >&2; return 1 ;;
    esac
    debootstrap --variant=minbase \
        --include=systemd,systemd-sysv,openssh-server,sudo,dbus,iproute2,procps,$libssl,libstdc++6,ca-certificates,curl,nftables,libfaketime \
        "$release" "$dir" "$mirror"
    # Per-node identity is written into each node's upper layer before boot.
    rm -f "$dir"/etc/ssh/ssh_host_* "$dir"/etc/hostname
    : >"$dir/etc/machine-id"
    rm -f "$dir/var/lib/dbus/machine-id"
    # No network services, no consoles, no periodic jobs: nodes stay small.
    for unit in getty.target console-getty.service container-getty@.service getty@.service \
        serial-getty@.service apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer \
        e2scrub_reap.service fstrim.timer systemd-networkd.service systemd-networkd.socket \
        systemd-networkd-wait-online.service systemd-resolved.service systemd-timesyncd.service; do
        ln -sfn /dev/null "$dir/etc/systemd/system/$unit"
    done
    mkdir -p "$dir/etc/systemd/journald.conf.d"
    printf '[Journal]\nStorage=volatile\nRuntimeMaxUse=8M\n' \
        >"$dir/etc/systemd/journald.conf.d/local-cluster.conf"
    # sshd: keys only, many parallel connections, TCP forwarding stays on (default).
    mkdir -p "$dir/etc/ssh/sshd_config.d"
    printf '%s\n' 'HostKey /etc/ssh/ssh_host_ed25519_key' 'HostKey /etc/ssh/ssh_host_ecdsa_key' \
        'MaxStartups 100:30:200' 'PasswordAuthentication no' 'PermitRootLogin no' 'UseDNS no' \
        >"$dir/etc/ssh/sshd_config.d/local-cluster.conf"
    # The deploy user: key login only ('*' = no password, not locked), passwordless sudo.
    command -v chroot >/dev/null
    chroot "$dir" /usr/sbin/useradd --create-home --shell /bin/bash deploy
    chroot "$dir" /usr/sbin/usermod --password '*' deploy
    printf 'deploy ALL=(ALL) NOPASSWD:ALL\n' >"$dir/etc/sudoers.d/deploy"
    chmod 0440 "$dir/etc/sudoers.d/deploy"
    # No DNS server inside the local cluster (nothing outside the subnet is contacted).
    rm -f "$dir/etc/resolv.conf"
    : >"$dir/etc/resolv.conf"
    rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/*
}

image_hash() {  # image_hash <release>
    { declare -f image_recipe; echo "$1"; } | sha256sum | cut -c1-16
}

image_dir() {  # image_dir <release>
    echo "$CACHE_DIR/image-$1-$(image_hash "$1")"
}

# The Debian mirror of the host's apt sources (deb822 *.sources or one-line format):
# the first entry for suite "bookworm".
debian_mirror() {
    local f uri
    if [[ -n ${CLUSTER_DEPLOY_LOCAL_CLUSTER_MIRROR:-} ]]; then echo "$CLUSTER_DEPLOY_LOCAL_CLUSTER_MIRROR"; return; fi
    for f in /etc/apt/sources.list.d/*.sources; do
        [[ -f $f ]] || continue
        uri=$(awk '
            BEGIN { RS = ""; FS = "\n" }
            {
                uris = ""; suites = ""
                for (i = 1; i <= NF; i++) {
                    if ($i ~ /^URIs:/)   { uris = $i;   sub(/^URIs:[ \t]*/, "", uris) }
                    if ($i ~ /^Suites:/) { suites = $i; sub(/^Suites:[ \t]*/, "", suites) }
                }
                n = split(suites, s, /[ \t]+/)
                for (j = 1; j <= n; j++) if (s[j] == "bookworm") { split(uris, u, /[ \t]+/); print u[1]; exit }
            }' "$f")
        [[ -n $uri ]] && { echo "$uri"; return; }
    done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [[ -f $f ]] || continue
        uri=$(awk '$1 == "deb" {
                  i = 2; if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
                  if ($(i + 1) == "bookworm") { print $i; exit } }' "$f")
        [[ -n $uri ]] && { echo "$uri"; return; }
    done
    usage_error "no Debian bookworm mirror found in /etc/apt/sources.list or /etc/apt/sources.list.d/ (set CLUSTER_DEPLOY_LOCAL_CLUSTER_MIRROR)"
}

# Builds the image of <release> into a temp dir and renames it into place, so an interrupted
# build is never used. Serialised by a lock on the cache directory.
ensure_image() {
    local release=$1 final tmp mirror log
    final=$(image_dir "$release")
    [[ -d $final ]] && return 0
    mkdir -p "$CACHE_DIR"
    exec 8>"$CACHE_DIR/.lock"
    flock -w 900 8 || die "timed out waiting for another image build (lock $CACHE_DIR/.lock)"
    if [[ ! -d $final ]]; then
        for tmp in "$CACHE_DIR"/.image-*.tmp; do       # leftovers of interrupted builds
            [[ -d $tmp ]] || continue
            umount_below "$tmp"
            rm -rf --one-file-system "$tmp"
        done
        mirror=$(debian_mirror)
        tmp="$CACHE_DIR/.image-$release-$(image_hash "$release").tmp"
        log="$CACHE_DIR/image-build-$release.log"
        info "building the $release base image $final from $mirror (a few minutes, once)"
        if ! image_recipe "$tmp" "$mirror" "$release" >"$log" 2>&1; then
            umount_below "$tmp"
            rm -rf --one-file-system "$tmp"
            die "$release base image build failed, see $log: $(tail -n 1 "$log")"
        fi
        mv -T "$tmp" "$final"
        info "$release base image ready"
    fi
    exec 8>&-
}

# The image of every release the inventory's nodes boot.
ensure_images() {
    local release
    while read -r release; do
        ensure_image "$release"
    done < <(printf '%s\n' "${NODE_IMAGES[@]}" | sort -u)
}
