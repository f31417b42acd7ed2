#!/bin/sh
# relay-open.sh <cluster> <public key> <relay-receive.sh's text>   (run as root; stdin: the private key)
#
# Lets this node take part in a deploy's fan-out. Other nodes holding the deploy's key may
# pass files into this node's relay inbox, or read what this node is taking from its outbox
# while it arrives (the key's forced command, relay-receive.sh, runs as the relay user, an
# account of ours with no other use), and this node may pass files on to theirs
# (relay-send.sh) or read theirs (relay-take.sh). The key exists only for this deploy: relay-close.sh removes
# both halves, and sshd refuses the key an hour after it was installed should the deploy
# never come back. Prints this node's host keys ("hostkey <type> <base64>") for the other
# nodes' known_hosts, and "no-ssh-client" when it can receive but not pass on.
# Exits 4 when the relay account's name is taken by someone else's account.
set -e
# shellcheck source=prelude.sh
. ./prelude.sh
refuse_unless_ours "to deploy"
if getent passwd "$relay_user" >/dev/null && [ "$(getent passwd "$relay_user" | cut -d: -f5)" != "$relay_mark" ]; then
  echo "user $relay_user exists and was not created by cluster-deploy: no fan-out to this node" >&2
  exit 4
fi
if [ "${#relay_user}" -gt 32 ]; then
  echo "the relay account's name $relay_user is longer than 32 characters: no fan-out to this node" >&2
  exit 4
fi
make_ours
umask 022
mkdir -p "$relay_home/.ssh"
chown root:root "$relay_home" "$relay_home/.ssh"
chmod 0755 "$relay_home" "$relay_home/.ssh"
# '*': no password, but not a locked account, which sshd refuses when PAM is off.
getent passwd "$relay_user" >/dev/null ||
  useradd --system --user-group --no-create-home --home-dir "$relay_home" --shell /bin/sh --password '*' \
    --comment "$relay_mark" "$relay_user"
rm -rf "$relay_inbox" "$relay_outbox"
mkdir -m 0700 "$relay_inbox"
chown "$relay_user:$relay_user" "$relay_inbox"
mkdir -m 0750 "$relay_outbox"
chown "root:$relay_user" "$relay_outbox"
printf '%s\n' "$3" >"$relay_home/receive.sh"
until=$(date -d '+1 hour' +%Y%m%d%H%M)
printf 'restrict,expiry-time="%s",command="sh %s/receive.sh %s %s" %s\n' "$until" "$relay_home" "$relay_inbox" "$relay_outbox" "$2" \
  >"$relay_home/.ssh/authorized_keys"
rm -rf "$relay_run"
mkdir -p "$run_dir"
mkdir -m 0700 "$relay_run"
(
  umask 077
  cat >"$relay_run/key"
)
for f in /etc/ssh/ssh_host_*_key.pub; do
  if [ -r "$f" ]; then printf 'hostkey %s\n' "$(cut -d' ' -f1,2 "$f")"; fi
done
command -v ssh >/dev/null || echo no-ssh-client
