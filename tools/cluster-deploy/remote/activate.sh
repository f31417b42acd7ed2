#!/bin/sh
# activate.sh <cluster> <release> <reason> [--install <unit>...] [--remove <unit>...] [--enable <unit>...]
#   [--restart <service>...]   (run as root, as the transient unit cluster-deploy-switch-<cluster>)
#
# The switch of a node, as one step: installs the release's changed units, stops and removes
# units no longer in the plan, switches `current` to <release> atomically (rename(2)), appends
# "<time> <old> -> <new> <reason>" to deploy.log (releases.sh replays it), enables every
# unit of the release not enabled yet (so a half-done earlier activate is completed), restarts
# the services whose turn it is (queued, as systemctl.sh does: the controller's health checks
# wait), prunes old releases (the newest three besides the new and the previous one stay) and
# records the stat lines of the release's files (.stat, for drift.sh).
# The controller starts it with systemd-run --wait: a controller killed or cut off midway
# leaves it to finish, so no service runs behind the `current` it switched.
set -e
# shellcheck source=prelude.sh
. ./prelude.sh
release=$2 reason=$3
shift 3
refuse_unless_ours "to deploy"
make_ours
# seal.sh opens a release (0755) right after moving it into place; a seal cut off between the
# two left it root's alone, which no service could run from.
chmod 0755 "$root/releases/$release"
mode="" enable="" reload="" restart="" fresh=" "
for u in "$@"; do
  case $u in --install | --remove | --enable | --restart)
    mode=$u
    continue
    ;;
  esac
  case $mode in
  --install)
    # A unit systemd has never loaded is read from its file when first started (systemd 246
    # and later): installing it needs no reload. One it has loaded does. A unit whose file is
    # new here (a first deploy; clean.sh reloads after it removes one) is fresh: neither loaded
    # from a file nor enabled, so the two systemctl calls that would ask are not made.
    if [ ! -e "$unit_dir/$u" ]; then
      fresh="$fresh$u "
    elif [ "$(systemctl show -p LoadState --value "$u")" != not-found ]; then
      reload=yes
    fi
    install -m 0644 "$root/releases/$release/units/$u" "$unit_dir/.$u.tmp"
    mv -f "$unit_dir/.$u.tmp" "$unit_dir/$u"
    ;;
  --remove)
    systemctl disable --now -q "$u" 2>/dev/null || true
    rm -f "$unit_dir/$u"
    reload=yes
    ;;
  --enable)
    case $fresh in
    *" $u "*) enable="$enable $u" ;;
    *) systemctl is-enabled -q "$u" 2>/dev/null || enable="$enable $u" ;;
    esac
    ;;
  --restart) restart="$restart $(unit_name "$u")" ;;
  esac
done
old=$(readlink "$root/current" || true)
old=${old##*/}
ln -sfn "releases/$release" "$root/.current.tmp"
mv -Tf "$root/.current.tmp" "$root/current"
printf '%s %s -> %s %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$old" "$release" "$reason" >>"$root/deploy.log"
# A reload only when a unit systemd has loaded changed or went, and only one (it costs a node
# ~170 ms of CPU, its generators included). A first deploy and a config-only change reload
# nothing before the restarts.
# shellcheck disable=SC2086 # one word per unit
[ -z "$enable" ] || systemctl enable -q --no-reload $enable
[ -z "$reload" ] || systemctl daemon-reload
for unit in $restart; do
  systemctl reset-failed "$unit" 2>/dev/null || true
  systemctl restart --no-block "$unit"
done
# systemd 254 and later count a unit's new enable link as a change of the unit: it asks for a
# reload (NeedDaemonReload), and `systemctl status` warns until it has one.
# shellcheck disable=SC2086 # one word per unit
if [ -z "$reload" ] && [ -n "$enable" ] && systemctl show -p NeedDaemonReload --value $enable | grep -qx yes; then
  systemctl daemon-reload
fi
cd "$root/releases"
# A release is renamed out of the way before it is removed: an interrupted prune never
# leaves a partial releases/<id> that a later deploy would trust and switch to.
# Only when there is one to prune (more than the three, the new and the previous one): three
# processes fewer in most switches.
set -- *
keep=5
[ -n "$old" ] && [ "$old" != "$release" ] || keep=4
# shellcheck disable=SC2010,SC2012 # release ids are hex digits: ls is safe here and sorts by time
[ $# -le $keep ] || ls -1t | grep -vx -e "$release" -e "${old:-.}" | tail -n +4 | while read -r r; do
  mv -T -- "$r" ".prune-$r" && rm -rf -- ".prune-$r"
done
# How the release's files and units look now that they are in place: drift.sh reads no file
# whose stat line is still this one. Last, as a prune unlinks hard links (and so changes a
# file's change time); a later run's hard links do too, and then drift.sh hashes again.
cd "$root/releases/$release"
if file_stats >.stat.tmp; then mv -f .stat.tmp .stat; else rm -f .stat.tmp; fi
