#include "node_ops.hpp"

#include "hash.hpp"
#include "quote.hpp"
#include "remote_scripts.hpp"

#include <algorithm>
#include <chrono>
#include <sstream>

namespace deploy {
namespace {

// Runs "$@" as root: directly when we are root, else through non-interactive sudo.
const char* k_as_root = R"SH(if [ "$(id -u)" -eq 0 ]; then exec "$@"; else exec sudo -n -- "$@"; fi)SH";

// What we create carries our mark: the service user's comment, a .cluster-deploy file in
// /opt/<cluster> and /var/lib/<cluster> (units carry a comment line, render.cpp). An account or
// folder of that name without the mark is someone else's: refused (exit 4) before anything is
// created. Prepended to the scripts that create them; $1 is the cluster.
const std::string k_ownership = R"SH(mark="cluster-deploy $1"
if getent passwd "$1" >/dev/null && [ "$(getent passwd "$1" | cut -d: -f5)" != "$mark" ]; then
  echo "user $1 exists and was not created by cluster-deploy: refusing" >&2; exit 4
fi
for d in "/opt/$1" "/var/lib/$1"; do
  if [ -e "$d" ] && [ ! -f "$d/.cluster-deploy" ]; then
    echo "$d exists and was not created by cluster-deploy: refusing" >&2; exit 4
  fi
done
getent passwd "$1" >/dev/null || useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin --comment "$mark" "$1"
for d in "/opt/$1" "/var/lib/$1"; do
  mkdir -p "$d"; [ -f "$d/.cluster-deploy" ] || printf '%s\n' "$mark" > "$d/.cluster-deploy"
done
)SH";

// Units we own carry this line (render.cpp), so cluster "kv" never touches "kv-test".
// $1 is the cluster in every script.
const char* k_state_script = R"SH(root=/opt/$1; c=$1
cur=$(readlink "$root/current" 2>/dev/null || true)
echo "current ${cur##*/}"
for d in "$root"/releases/*/; do [ -d "$d" ] || continue; d=${d%/}; echo "release ${d##*/}"; done
[ -f "$root/current/MANIFEST" ] && sed 's/^/file /' "$root/current/MANIFEST"
for u in /etc/systemd/system/"$c"-*.service; do
  [ -f "$u" ] && grep -qx "# cluster-deploy: cluster=$c" "$u" || continue
  set -- $(sha256sum "$u"); echo "unit $1 ${u##*/}"
done
for f in "$root"/started/*; do [ -f "$f" ] && echo "started ${f##*/} $(cat "$f")"; done
exit 0)SH";

// Args after the cluster and release id: (path in current, path in new, sha256)
// triples. A file is reused only if its content on the node is still what the
// manifest says; otherwise its path is printed as "resend PATH". Programs are hard
// links (large, never written in place); everything else is copied.
const std::string k_prepare_script = k_ownership + R"SH(set -e; c=$1; root=/opt/$1; st=$root/releases/.staging-$2; shift 2
mkdir -p -m 0755 "$root/releases"; rm -rf "$root"/releases/.staging-*; umask 077; mkdir -p "$st"
while [ $# -ge 3 ]; do
  src=$root/current/$1; dst=$st/$2; mkdir -p "$(dirname "$dst")"
  if [ -f "$src" ] && [ "$(sha256sum < "$src" | cut -d' ' -f1)" = "$3" ]; then
    case $2 in bin/*) ln "$src" "$dst" 2>/dev/null || cp -p "$src" "$dst" ;; *) cp -p "$src" "$dst" ;; esac
  else
    echo "resend $2"
  fi
  shift 3
done)SH";

// Staging is root's alone (0700, files 0600) until seal sets the final modes: a config
// holding a secret is never world-readable, not even in an interrupted upload.
const char* k_upload_script = R"SH(set -e; umask 077; f=/opt/$1/releases/.staging-$2/$3
mkdir -p "$(dirname "$f")"; cat > "$f.part"; mv -f "$f.part" "$f")SH";

// Configs may hold secrets: readable by root and the service user's group only.
const char* k_seal_script = R"SH(set -e; root=/opt/$1; st=$root/releases/.staging-$2
cat > "$st/MANIFEST"; cd "$st"
if ! out=$(sha256sum --quiet --strict -c MANIFEST 2>&1); then echo "$out" | head -n 3 >&2; exit 3; fi
chown -R root:root "$st"
if [ -d etc ]; then chgrp -R "$1" etc; chmod -R u=rwX,g=rX,o= etc; fi
for d in bin units; do if [ -d "$d" ]; then chmod -R go-w,a+rX "$d"; fi; done
[ -d bin ] && chmod 0755 bin/*
chmod 0755 .; chmod 0644 MANIFEST
cd /; mv -T "$st" "$root/releases/$2")SH";

// Args after the cluster, release id and reason (deploy, back, rollback: written to
// deploy.log, from which releases.sh knows which release was current before):
// "--install" unit..., "--remove" unit..., "--enable" unit... (every unit of the
// release, so a half-done earlier activate is completed).
const std::string k_activate_script = k_ownership + R"SH(set -e; c=$1; id=$2; reason=$3; root=/opt/$1; shift 3
mode=""; enable=""
for u in "$@"; do
  case $u in --install|--remove|--enable) mode=$u; continue ;; esac
  case $mode in
    --install) install -m 0644 "$root/releases/$id/units/$u" "/etc/systemd/system/.$u.tmp"
               mv -f "/etc/systemd/system/.$u.tmp" "/etc/systemd/system/$u" ;;
    --remove) systemctl disable --now -q "$u" 2>/dev/null || true; rm -f "/etc/systemd/system/$u" ;;
    --enable) enable="$enable $u" ;;
  esac
done
old=$(readlink "$root/current" || true)
ln -sfn "releases/$id" "$root/.current.tmp"; mv -Tf "$root/.current.tmp" "$root/current"
printf '%s %s -> %s %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "${old##*/}" "$id" "$reason" >> "$root/deploy.log"
systemctl daemon-reload
if [ -n "$enable" ]; then systemctl enable -q $enable; fi
cd "$root/releases"; old=${old##*/}
ls -1t | grep -vx -e "$id" -e "${old:-.}" | tail -n +4 | while read -r r; do rm -rf -- "$r"; done)SH";

const char* k_record_started_script = R"SH(set -e; d=/opt/$1/started; mkdir -p "$d"
printf '%s\n' "$3" > "$d/.$2.tmp"; mv -f "$d/.$2.tmp" "$d/$2")SH";

const char* k_clean_script = R"SH(c=$1; purge=$2; shift 2
for d in "/opt/$c" "/var/lib/$c"; do
  if [ -e "$d" ] && [ ! -f "$d/.cluster-deploy" ]; then
    echo "$d exists and was not created by cluster-deploy: refusing to clean" >&2; exit 4
  fi
done
for s in "$@"; do systemctl disable --now -q "$c-$s.service" 2>/dev/null || true; done
for u in /etc/systemd/system/"$c"-*.service; do
  [ -f "$u" ] && grep -qx "# cluster-deploy: cluster=$c" "$u" || continue
  systemctl disable --now -q "${u##*/}" 2>/dev/null || true; rm -f "$u"
done
systemctl daemon-reload; systemctl reset-failed 2>/dev/null || true
rm -rf "/opt/$c"
if [ "$purge" = purge ]; then rm -rf "/var/lib/$c" "/var/lib/private/$c"; fi
exit 0)SH";

const char* k_drift_script = R"SH(c=$1; root=/opt/$1
[ -f "$root/current/MANIFEST" ] || exit 0
cd "$root/current" && sha256sum --quiet -c MANIFEST 2>/dev/null | sed 's/: .*//'
for f in units/*.service; do
  [ -f "$f" ] || continue; cmp -s "$f" "/etc/systemd/system/${f#units/}" || echo "/etc/systemd/system/${f#units/}"
done
exit 0)SH";

std::string first_line(const std::string& text)
{
  auto end = text.find('\n');
  return text.substr(0, end);
}

} // namespace

std::string root_command(const std::string& script, const std::vector<std::string>& args, const std::string& name)
{
  std::vector<std::string> words = {"sh", "-c", k_as_root, "as-root", "sh", "-c", script, name};
  words.insert(words.end(), args.begin(), args.end());
  return shell_join(words);
}

UnitState parse_unit_state(std::string_view text)
{
  UnitState state;
  std::istringstream in{std::string(text)};
  std::string line;
  while (std::getline(in, line)) {
    auto eq = line.find('=');
    if (eq == std::string::npos) {
      continue;
    }
    auto key = line.substr(0, eq);
    auto value = line.substr(eq + 1);
    if (key == "ActiveState") {
      state.active = value;
    } else if (key == "SubState") {
      state.sub = value;
    } else if (key == "MainPID") {
      state.main_pid = std::stol(value.empty() ? "0" : value);
    } else if (key == "NRestarts") {
      state.restarts = std::stol(value.empty() ? "0" : value);
    } else if (key == "Result") {
      state.result = value;
    } else if (key == "Failure") {
      state.failures.push_back(value);
    } else if (key == "LoadState") {
      state.loaded = value == "loaded";
    } else if (key == "Uptime") {
      state.uptime_seconds = std::stol(value.empty() ? "-1" : value);
    }
  }
  return state;
}

Result<ExecResult> NodeOps::run_script(const std::string& what, const std::string& script,
                                       const std::vector<std::string>& args, std::string_view input, Seconds timeout,
                                       const std::string& name)
{
  auto result = m_transport.exec(root_command(script, args, name), input, timeout);
  if (!result) {
    return fail(m_node + ": " + what + ": " + result.error());
  }
  if (!result->succeeded()) {
    std::string why = first_line(result->err.empty() ? result->out : result->err);
    if (!result->exit_signal.empty()) {
      why = "killed by SIG" + result->exit_signal;
    }
    return fail(m_node + ": " + what + " failed (exit " + std::to_string(result->exit_status) + "): " + why);
  }
  return result;
}

Result<std::string> NodeOps::current_release()
{
  auto result = run_script("reading current release", R"SH(readlink "/opt/$1/current" || true)SH", {m_layout.cluster},
                           {}, Seconds{30});
  if (!result) {
    return fail(result.error());
  }
  std::string target = first_line(result->out);
  return target.substr(target.rfind('/') + 1);
}

Result<ExecResult> NodeOps::run_as_service_user(const std::string& shell_command, Seconds timeout)
{
  auto result = m_transport.exec(
      root_command("exec runuser -u \"$1\" -- sh -c \"$2\"", {m_layout.user(), shell_command}), {}, timeout);
  if (!result) {
    return fail(m_node + ": " + result.error());
  }
  return result;
}

Result<RemoteState> NodeOps::read_state()
{
  auto result = run_script("reading deployed state", k_state_script, {m_layout.cluster}, {}, Seconds{60});
  if (!result) {
    return fail(result.error());
  }
  return parse_remote_state(result->out);
}

Result<std::vector<std::string>> NodeOps::prepare_staging(const NodeRelease& release, const ChangeSet& changes)
{
  std::vector<std::string> args = {m_layout.cluster, release.id};
  for (const auto& reused : changes.reuse) {
    args.insert(args.end(), {reused.from, reused.to, reused.sha256});
  }
  auto result = run_script("preparing release " + release.id, k_prepare_script, args);
  if (!result) {
    return fail(result.error());
  }
  std::vector<std::string> resend;
  std::istringstream in(result->out);
  std::string word, path;
  while (in >> word >> path) {
    if (word == "resend") {
      resend.push_back(path);
    }
  }
  return resend;
}

Result<void> NodeOps::upload(const NodeRelease& release, const ReleaseFile& file)
{
  auto command = root_command(k_upload_script, {m_layout.cluster, release.id, file.path});
  auto result = m_transport.exec_with_file(command, file.local, Seconds{600});
  if (!result) {
    return fail(m_node + ": uploading " + file.path + ": " + result.error());
  }
  if (!result->succeeded()) {
    return fail(m_node + ": uploading " + file.path + " failed: " + first_line(result->err));
  }
  return {};
}

Result<void> NodeOps::seal(const NodeRelease& release)
{
  auto result =
      run_script("checking release " + release.id, k_seal_script, {m_layout.cluster, release.id}, release.manifest);
  return result ? Result<void>{} : fail(result.error());
}

std::string run_id()
{
  // One id per command run, the same on every node: fixed-width milliseconds, so ids sort by time.
  static const std::string id = [] {
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::system_clock::now().time_since_epoch())
                  .count();
    std::string digits = std::to_string(ms);
    return "r" + std::string(digits.size() < 15 ? 15 - digits.size() : 0, '0') + digits;
  }();
  return id;
}

Result<void> NodeOps::activate(const NodeRelease& release, const ChangeSet& changes, const std::string& reason)
{
  // deploy.log gets "<reason> run=<id>": rollback undoes the newest run (remote/releases.sh).
  std::vector<std::string> args = {m_layout.cluster, release.id, reason + " run=" + run_id(), "--install"};
  args.insert(args.end(), changes.units_to_install.begin(), changes.units_to_install.end());
  args.push_back("--remove");
  args.insert(args.end(), changes.units_to_remove.begin(), changes.units_to_remove.end());
  args.push_back("--enable");
  for (const auto& file : release.files) {
    if (file.path.starts_with("units/")) {
      args.push_back(file.path.substr(6));
    }
  }
  auto result = run_script("activating release " + release.id, k_activate_script, args);
  return result ? Result<void>{} : fail(result.error());
}

Result<void> NodeOps::record_started(const std::string& service, const std::string& digest)
{
  auto result = run_script("recording " + service, k_record_started_script, {m_layout.cluster, service, digest});
  return result ? Result<void>{} : fail(result.error());
}

Result<void> NodeOps::systemctl(const std::string& verb, const std::string& service)
{
  // start/restart do not wait (a Raft member may only become ready with its peers);
  // health checks wait instead. stop of a unit that is not installed succeeds.
  const char* script = R"SH(case $1 in
  start|restart) systemctl reset-failed "$2" 2>/dev/null; exec systemctl "$1" --no-block "$2" ;;
  stop) systemctl stop "$2"; rc=$?; [ $rc -eq 5 ] && exit 0; exit $rc ;;
esac; exit 2)SH";
  auto result = run_script("systemctl " + verb + " " + service, script, {verb, m_layout.unit_name(service)});
  return result ? Result<void>{} : fail(result.error());
}

Result<UnitState> NodeOps::unit_state(const std::string& service, bool with_failures)
{
  // Failures: systemd's "Failed with result" journal entries (MESSAGE_ID of
  // SD_MESSAGE_UNIT_FAILURE_RESULT) since the unit file or the started record was
  // written, whichever is later: a restart (Restart=always) does not hide them.
  const char* script =
      R"SH(systemctl show -p LoadState -p ActiveState -p SubState -p Result -p MainPID -p NRestarts "$1"
t=$(systemctl show -p ActiveEnterTimestampMonotonic --value "$1"); now=$(cut -d' ' -f1 /proc/uptime)
if [ "$(systemctl show -p ActiveState --value "$1")" = active ] && [ -n "$t" ] && [ "$t" != 0 ]; then
  echo "Uptime=$(( ${now%.*} - t / 1000000 ))"; fi
[ "$3" != failures ] || since=$(stat -c %Y "/etc/systemd/system/$1" "$2" 2>/dev/null | sort -n | tail -n 1)
[ "$3" != failures ] || [ -z "$since" ] || journalctl -q --no-pager -o cat --output-fields=UNIT_RESULT UNIT="$1" \
  MESSAGE_ID=d9b373ed55a64feb8242e02dbe79a49c --since "@$since" 2>/dev/null | sed -n 's/^\([a-z-]*\)$/Failure=\1/p'
exit 0)SH";
  auto result = run_script(
      "reading state of " + service, script,
      {m_layout.unit_name(service), m_layout.root() + "/started/" + service, with_failures ? "failures" : "-"}, {},
      Seconds{30});
  if (!result) {
    return fail(result.error());
  }
  return parse_unit_state(result->out);
}

Result<std::string> NodeOps::journal_tail(const std::string& service, int lines)
{
  auto result = run_script("reading journal", "journalctl -u \"$1\" -n \"$2\" --no-pager -o short-iso",
                           {m_layout.unit_name(service), std::to_string(lines)}, {}, Seconds{30});
  if (!result) {
    return fail(result.error());
  }
  return result->out;
}

Result<void> NodeOps::clean(const std::vector<std::string>& services, bool purge_data)
{
  std::vector<std::string> args = {m_layout.cluster, purge_data ? "purge" : "keep"};
  args.insert(args.end(), services.begin(), services.end());
  auto result = run_script("cleaning", k_clean_script, args, {}, Seconds{300});
  return result ? Result<void>{} : fail(result.error());
}

Result<std::vector<std::string>> NodeOps::drift()
{
  auto result = run_script("checking drift", k_drift_script, {m_layout.cluster}, {}, Seconds{60});
  if (!result) {
    return fail(result.error());
  }
  std::vector<std::string> changed;
  std::istringstream in(result->out);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) {
      changed.push_back(line);
    }
  }
  return changed;
}

RollbackTarget parse_rollback_target(std::string_view text)
{
  RollbackTarget target;
  std::istringstream in{std::string(text)};
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string key, first, second;
    words >> key;
    if (key == "target") {
      words >> target.id;
    } else if (key == "none") {
      std::getline(words >> std::ws, target.why_none);
    } else if (key == "run") {
      words >> target.run;
    } else if (key == "file" && (words >> first >> second)) {
      target.files[second] = first;
    }
  }
  if (target.id.empty() && target.why_none.empty()) {
    target.why_none = "no answer from the node";
  }
  return target;
}

std::vector<ActiveFault> parse_active_faults(std::string_view text)
{
  std::vector<ActiveFault> faults;
  std::istringstream in{std::string(text)};
  std::string line;
  long now = 0;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string key;
    words >> key;
    if (key == "now") {
      words >> now;
    } else if (key == "fault") {
      ActiveFault fault;
      long until = 0;
      words >> fault.id >> fault.kind >> until;
      for (std::string unit; words >> unit;) {
        fault.units.push_back(unit);
      }
      fault.seconds_left = std::max(until - now, 0L);
      faults.push_back(std::move(fault));
    }
  }
  return faults;
}

Result<void> NodeOps::apply_fault(const std::string& id, int seconds, const std::string& kind,
                                  const std::vector<std::string>& args)
{
  std::vector<std::string> words = {m_layout.cluster, id, std::to_string(seconds), sha256_hex(remote::heal.text), kind};
  words.insert(words.end(), args.begin(), args.end());
  auto result = run_script(kind + " fault", remote::fault.text, words, remote::heal.text, Seconds{60},
                           remote::fault.name);
  return result ? Result<void>{} : fail(result.error());
}

Result<std::vector<std::string>> NodeOps::heal_faults(const std::string& only)
{
  std::vector<std::string> args = {m_layout.cluster};
  if (!only.empty()) {
    args.push_back(only);
  }
  auto result = run_script("healing faults", remote::heal.text, args, {}, Seconds{60}, remote::heal.name);
  if (!result) {
    return fail(result.error());
  }
  std::vector<std::string> healed;
  std::istringstream in(result->out);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) {
      healed.push_back(line);
    }
  }
  return healed;
}

Result<std::vector<ActiveFault>> NodeOps::active_faults()
{
  auto result = run_script("listing faults", remote::list_faults.text, {m_layout.cluster}, {}, Seconds{30},
                           remote::list_faults.name);
  if (!result) {
    return fail(result.error());
  }
  return parse_active_faults(result->out);
}

Result<RollbackTarget> NodeOps::rollback_target(const std::string& wanted)
{
  std::vector<std::string> args = {m_layout.cluster};
  if (!wanted.empty()) {
    args.push_back(wanted);
  }
  auto result = run_script("looking for the release to go back to", remote::releases.text, args, {}, Seconds{30},
                           remote::releases.name);
  if (!result) {
    return fail(result.error());
  }
  return parse_rollback_target(result->out);
}

} // namespace deploy
