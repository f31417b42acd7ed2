#include "node_ops.hpp"

#include "hash.hpp"
#include "preflight.hpp"
#include "quote.hpp"
#include "remote_scripts.hpp"
#include "step_log.hpp"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <sstream>

namespace deploy {
namespace {

std::string first_line(const std::string& text)
{
  auto end = text.find('\n');
  return text.substr(0, end);
}

std::vector<std::string> non_empty_lines(const std::string& text)
{
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) {
      lines.push_back(line);
    }
  }
  return lines;
}

/// The loader of an installed script (installed_command): runs it when this helper's scripts
/// are on the node, owned by root; else says k_scripts_missing on stderr (alone or in a batch),
/// and the helper installs them.
const std::string k_scripts_missing = "cluster-deploy: node scripts missing";
const std::string k_loader =
    "[ -O \"$0\" ] || { echo '" + k_scripts_missing + "' >&2; exit 199; }; exec sh \"$0\" \"$@\"";

/// The installer (run as root, read from stdin by sh -s): every script into the folder of
/// their id, through a temporary folder, so that a node has all of them or none.
std::string build_installer_text()
{
  const std::string dir = installed_scripts_dir();
  std::string text = "set -eu\numask 022\nmkdir -p /run/cluster-deploy/scripts\n"
                     "for d in /run/cluster-deploy /run/cluster-deploy/scripts; do # root's, no one else may write\n"
                     "  case $(stat -c '%u %A' \"$d\") in '0 d'???\?-?\?-?) ;; *) echo \"$d is not root's alone\" >&2; exit 4 ;; esac\n"
                     "done\n"
                     "[ -d " + dir + " ] && exit 0\n"
                     "tmp=$(mktemp -d /run/cluster-deploy/scripts/.new.XXXXXX)\n";
  for (const remote::Script* script : remote::all) { // printf is sh's own: no process a script
    std::string body = std::string(script->text) + (std::string_view(script->text).ends_with("\n") ? "" : "\n");
    text += "printf '%s' " + shell_quote(body) + " >\"$tmp/" + script->name + "\"\n";
  }
  return text + "chmod 0755 \"$tmp\"\nmv -T \"$tmp\" " + dir + " 2>/dev/null || rm -rf \"$tmp\"\n";
}

/// build_installer_text(), made once: a batch's input refers to it (run_batch).
const std::string& installer_text()
{
  static const std::string text = build_installer_text();
  return text;
}

/// The one exec of a batch: as root, one sh, each step in a subshell of it (k_batch_prologue),
/// after `before` (no step: it prints no marker).
std::string batch_command(const std::vector<std::string>& steps, const std::string& before)
{
  std::string text = "CLUSTER_DEPLOY_RUN=" + run_id() + "; export CLUSTER_DEPLOY_RUN\n" + std::string(k_batch_prologue) +
                     before;
  for (const auto& step : steps) {
    text += step + std::string(k_batch_step_end);
  }
  return shell_join({"sh", "-c", remote::as_root.text, remote::as_root.name, "sh", "-c", text, "batch.sh"});
}

} // namespace

std::string scripts_id()
{
  static const std::string id = [] {
    std::string all;
    for (const remote::Script* script : remote::all) {
      all += std::string(script->name) + '\0' + script->text + '\0';
    }
    return sha256_hex(all).substr(0, 16);
  }();
  return id;
}

std::string installed_scripts_dir()
{
  return "/run/cluster-deploy/scripts/" + scripts_id();
}

std::string installed_command(const remote::Script& script, const std::vector<std::string>& args,
                              const std::string& unit)
{
  std::vector<std::string> words = {"sh", "-c", remote::as_root.text, remote::as_root.name, "env",
                                    "CLUSTER_DEPLOY_RUN=" + run_id(), "sh", "-c", k_loader,
                                    installed_scripts_dir() + "/" + (unit.empty() ? script.name : remote::detach.name)};
  if (!unit.empty()) {
    words.insert(words.end(), {unit, script.name});
  }
  words.insert(words.end(), args.begin(), args.end());
  return shell_join(words);
}

std::string root_command(const remote::Script& script, const std::vector<std::string>& args)
{
  // The run id lets the script renew this run's lock on the node (remote/prelude.sh).
  std::vector<std::string> words = {"sh", "-c", remote::as_root.text, remote::as_root.name, "env",
                                    "CLUSTER_DEPLOY_RUN=" + run_id(), "sh", "-c", script.text, script.name};
  words.insert(words.end(), args.begin(), args.end());
  return shell_join(words);
}

LockHolder parse_lock_holder(std::string_view text)
{
  LockHolder holder;
  std::size_t start = 0;
  while (start < text.size()) {
    auto end = text.find('\n', start);
    auto line = text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    if (line.starts_with("locked ")) {
      holder.description = line.substr(7);
    } else if (line.starts_with("holder ")) {
      auto rest = line.substr(7);
      auto space = rest.find(' ');
      holder.run = rest.substr(0, space);
      holder.controller = space == std::string_view::npos ? "" : std::string(rest.substr(space + 1));
    }
    if (end == std::string_view::npos) {
      break;
    }
    start = end + 1;
  }
  return holder;
}

std::string describe_stale_lock(std::string_view text)
{
  auto at = text.find("stale ");
  if (at != 0 && (at == std::string_view::npos || text[at - 1] != '\n')) {
    return "";
  }
  std::istringstream line(std::string(text.substr(at + 6, text.find('\n', at) - at - 6)));
  std::string run, why, who;
  line >> run >> why;
  std::getline(line >> std::ws, who);
  static const std::map<std::string, std::string> words = {{"dead", "its controller process is gone"},
                                                           {"lease", "its lease ran out"},
                                                           {"connection", "its connection is gone"}};
  auto said = words.find(why);
  return "run " + run + " (" + who + "): " + (said == words.end() ? why : said->second);
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
    } else if (key == "UptimeMs") {
      state.uptime_ms = std::stol(value.empty() ? "-1" : value);
    }
  }
  return state;
}

RemoteState parse_remote_state(std::string_view text)
{
  RemoteState state;
  std::istringstream in{std::string(text)};
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string kind, first, second;
    words >> kind >> first >> second;
    if (kind == "current") {
      state.current_id = first;
    } else if (kind == "release" && !first.empty()) {
      state.releases.insert(first);
    } else if (kind == "file" && !second.empty()) {
      state.files[second] = first;
    } else if (kind == "unit" && !second.empty()) {
      state.units[second] = first;
    } else if (kind == "started" && !second.empty()) {
      state.started[first] = second;
    } else if (kind == "lock" && !first.empty()) {
      state.lock_run = first;
    }
  }
  return state;
}

Result<ExecResult> NodeOps::run_script(const std::string& what, const remote::Script& script,
                                       std::vector<std::string> args, std::string_view input, Seconds timeout,
                                       const std::string& unit)
{
  CD_TRY_VOID(may_run(script));
  args.insert(args.begin(), m_layout.cluster);
  StepLog step(m_node, what);
  auto result = exec_installed(installed_command(script, args, unit), {InputPart{input}}, timeout);
  if (!result) {
    step.result(result.error());
    return fail(m_node + ": " + what + ": " + result.error());
  }
  if (!result->succeeded()) {
    std::string why = first_line(result->err.empty() ? result->out : result->err);
    if (!result->exit_signal.empty()) {
      why = "killed by SIG" + result->exit_signal;
    }
    step.result("exit " + std::to_string(result->exit_status) + ": " + why);
    return fail(m_node + ": " + what + " failed (exit " + std::to_string(result->exit_status) + "): " + why);
  }
  return result;
}

namespace {

/// Runs `command` with `input`: by exec() when it is bytes in memory or nothing, else exec_with_input().
Result<ExecResult> exec_input(Transport& transport, const std::string& command, const std::vector<InputPart>& input,
                              Seconds timeout)
{
  if (input.size() > 1 || (input.size() == 1 && !input.front().file.empty())) {
    return transport.exec_with_input(command, input, timeout);
  }
  return transport.exec(command, input.empty() ? std::string_view() : input.front().bytes, timeout);
}

} // namespace

Result<ExecResult> NodeOps::exec_installed(const std::string& command, const std::vector<InputPart>& input,
                                           Seconds timeout)
{
  auto result = exec_input(m_transport, command, input, timeout);
  if (!result || result->err.find(k_scripts_missing) == std::string::npos) {
    return result;
  }
  StepLog step(m_node, "installing the node scripts into " + installed_scripts_dir());
  auto installed = m_transport.exec(shell_join({"sh", "-c", remote::as_root.text, remote::as_root.name, "sh", "-s"}),
                                    installer_text(), Seconds{60});
  if (!installed || !installed->succeeded()) {
    auto why = !installed ? installed.error() : first_line(installed->err);
    step.result(why);
    return fail("installing the node scripts into " + installed_scripts_dir() + ": " + why);
  }
  return exec_input(m_transport, command, input, timeout);
}

Result<ExecResult> NodeOps::run_as_service_user(const std::string& shell_command, Seconds timeout)
{
  StepLog step(m_node, "as the service user: " + shell_command);
  auto result = exec_installed(installed_command(remote::as_service_user, {m_layout.cluster, shell_command}), {}, timeout);
  if (!result) {
    return fail(m_node + ": " + result.error());
  }
  return result;
}

Result<NodeReading> NodeOps::read_node(const std::vector<std::string>& services)
{
  if (m_reading && m_read_with_lock == services) {
    NodeReading reading = std::move(*m_reading);
    m_reading.reset();
    return reading;
  }
  std::vector<BatchStep> steps;
  add_reading_steps(steps, services);
  CD_TRY(results, run_batch("reading deployed state", steps, Seconds{60}));
  return parse_reading(*results, 0, services);
}

void NodeOps::read_with_lock(std::vector<std::string> services, std::map<std::string, std::string> asks)
{
  m_read_with_lock = std::move(services);
  m_asks_with_lock = std::move(asks);
}

std::optional<ExecResult> NodeOps::answer_read_ahead(const std::string& name)
{
  auto it = m_answers_read_ahead.find(name);
  if (it == m_answers_read_ahead.end()) {
    return std::nullopt;
  }
  ExecResult answer = std::move(it->second);
  m_answers_read_ahead.erase(it);
  return answer;
}

Result<void> NodeOps::read_ahead()
{
  std::vector<BatchStep> steps;
  add_steps_read_ahead(steps);
  if (steps.empty()) {
    return {};
  }
  CD_TRY(results, run_batch("reading the node, its lock not taken", steps, Seconds{30}));
  return keep_read_ahead(*results, 0);
}

bool NodeOps::asks_passed() const
{
  return std::all_of(m_asks_with_lock.begin(), m_asks_with_lock.end(), [&](const auto& ask) {
    const ExecResult* answer = answer_ahead(ask.first);
    return answer && answer->succeeded();
  });
}

const ExecResult* NodeOps::answer_ahead(const std::string& name) const
{
  auto it = m_answers_read_ahead.find(name);
  return it == m_answers_read_ahead.end() ? nullptr : &it->second;
}

void NodeOps::add_steps_read_ahead(std::vector<BatchStep>& steps) const
{
  if (m_read_with_lock) {
    add_reading_steps(steps, *m_read_with_lock);
  }
  add_ask_steps(steps, m_asks_with_lock);
}

Result<void> NodeOps::keep_read_ahead(std::vector<ExecResult>& results, std::size_t first)
{
  m_reading.reset();
  Result<void> read;
  if (m_read_with_lock) {
    auto reading = parse_reading(results, first, *m_read_with_lock);
    if (reading) {
      m_reading = std::move(*reading);
    } else {
      read = fail(reading.error());
    }
    first += 1 + m_read_with_lock->size();
  }
  m_answers_read_ahead.clear();
  keep_answers(results, first, m_asks_with_lock);
  return read;
}

void NodeOps::add_ask_steps(std::vector<BatchStep>& steps, const std::map<std::string, std::string>& asks)
{
  for (const auto& [name, command] : asks) {
    steps.push_back({remote::as_service_user, {command, "3"}});
  }
}

void NodeOps::keep_answers(std::vector<ExecResult>& results, std::size_t first,
                           const std::map<std::string, std::string>& asks)
{
  for (const auto& [name, command] : asks) {
    m_answers_read_ahead[name] = std::move(results.at(first++));
  }
}

Result<void> NodeOps::may_run(const remote::Script& script) const
{
  static const std::vector<const remote::Script*> reading = {&remote::state,   &remote::unit_state, &remote::journal,
                                                             &remote::current, &remote::drift,      &remote::list_faults,
                                                             &remote::as_service_user};
  if (!m_changes_forbidden || std::find(reading.begin(), reading.end(), &script) != reading.end()) {
    return {};
  }
  return fail(m_node + ": " + script.name + " would change the node, and this run holds no lock on it (it found "
              "nothing to change): run the deploy again");
}

void NodeOps::add_reading_steps(std::vector<BatchStep>& steps, const std::vector<std::string>& services)
{
  steps.push_back({remote::state, {}});
  for (const auto& service : services) {
    steps.push_back({remote::unit_state, {service, "-"}});
  }
}

Result<NodeReading> NodeOps::parse_reading(const std::vector<ExecResult>& results, std::size_t first,
                                           const std::vector<std::string>& services)
{
  const ExecResult& state = results.at(first);
  if (!state.succeeded()) {
    return fail(m_node + ": reading deployed state failed (exit " + std::to_string(state.exit_status) +
                "): " + first_line(results.front().err));
  }
  NodeReading reading{parse_remote_state(state.out), {}};
  for (size_t i = 0; i < services.size(); ++i) {
    if (results.at(first + 1 + i).succeeded()) {
      reading.units[services[i]] = parse_unit_state(results[first + 1 + i].out);
    }
  }
  return reading;
}

Result<std::vector<std::string>> NodeOps::prepare_staging(const NodeRelease& release, const ChangeSet& changes)
{
  std::vector<std::string> args = {release.id};
  for (const auto& reused : changes.reuse) {
    args.insert(args.end(), {reused.from, reused.to, reused.sha256});
  }
  CD_TRY(result, run_script("preparing release " + release.id, remote::prepare, args));
  std::vector<std::string> resend;
  m_partial.clear();
  for (const auto& line : non_empty_lines(result->out)) {
    std::istringstream in(line);
    std::string word, what;
    std::uint64_t bytes = 0;
    in >> word >> what;
    if (word == "resend") {
      resend.push_back(what);
    } else if (word == "partial" && in >> bytes) {
      m_partial[what] = bytes;
    }
  }
  return resend;
}

Result<std::vector<std::string>> NodeOps::stage_in_one_trip(const NodeRelease& release, const ChangeSet& changes)
{
  const std::vector<const ReleaseFile*>& files = changes.send;
  std::vector<BatchStep> steps = {{remote::prepare, {release.id}}};
  for (const auto& reused : changes.reuse) {
    steps.front().args.insert(steps.front().args.end(), {reused.from, reused.to, reused.sha256});
  }
  std::vector<InputPart> input;
  CD_TRY_VOID(add_upload_steps(steps, input, release, files));
  steps.push_back({remote::seal, {release.id}, release.manifest.size()});
  input.emplace_back(release.manifest);
  CD_TRY(results, run_batch("staging release " + release.id + " in one round trip", steps, Seconds{120}, input));
  auto failed = [&](std::size_t i, const std::string& what) -> Result<std::vector<std::string>> {
    std::string why = first_line((*results)[0].err.empty() ? (*results)[i].out : (*results)[0].err);
    return fail(m_node + ": " + what + " failed (exit " + std::to_string((*results)[i].exit_status) + "): " + why);
  };
  if (!(*results)[0].succeeded()) {
    return failed(0, "preparing release " + release.id);
  }
  std::vector<std::string> resend;
  for (const auto& line : non_empty_lines((*results)[0].out)) {
    if (line.starts_with("resend ")) {
      resend.push_back(line.substr(7));
    }
  }
  for (std::size_t i = 0; i < files.size(); ++i) {
    if (!(*results)[i + 1].succeeded()) {
      return failed(i + 1, "uploading " + files[i]->path);
    }
  }
  if (!results->back().succeeded() && resend.empty()) {
    return failed(results->size() - 1, "checking release " + release.id);
  }
  return resend; // not empty: the seal found them missing; they go as usual, then the seal
}

namespace {

/// " (resumed at byte <from> of <bytes>)" for an upload that sends only the rest, else "".
std::string resumed_at(std::uint64_t from, std::uint64_t bytes)
{
  return from > 0 ? " (resumed at byte " + std::to_string(from) + " of " + std::to_string(bytes) + ")" : "";
}

} // namespace

std::uint64_t NodeOps::resume_from(const ReleaseFile& file, std::uint64_t bytes)
{
  std::uint64_t from = 0;
  if (auto part = m_partial.find(file.sha256); part != m_partial.end()) {
    from = part->second < bytes ? part->second : 0; // as long as the file but not it: damaged
    m_partial.erase(part);
  }
  return from;
}

Result<void> NodeOps::add_upload_steps(std::vector<BatchStep>& steps, std::vector<InputPart>& input,
                                       const NodeRelease& release, const std::vector<const ReleaseFile*>& files)
{
  for (const ReleaseFile* file : files) {
    std::error_code ec;
    std::uint64_t bytes = std::filesystem::file_size(file->local, ec); // not local_size: here we say why
    if (ec) {
      return fail(m_node + ": uploading " + file->path + ": cannot read " + file->local.string() + ": " + ec.message());
    }
    std::uint64_t from = resume_from(*file, bytes);
    steps.push_back({remote::upload, {release.id, file->path, file->sha256, std::to_string(bytes), std::to_string(from)},
                     bytes - from});
    input.emplace_back(file->local, from);
  }
  return {};
}

Result<std::vector<const ReleaseFile*>> NodeOps::send_and_seal(const NodeRelease& release,
                                                               const std::vector<const ReleaseFile*>& files)
{
  std::vector<BatchStep> steps;
  std::vector<InputPart> input;
  CD_TRY_VOID(add_upload_steps(steps, input, release, files));
  std::string what; // the step names the first file, and any that is resumed
  for (std::size_t i = 0; i < files.size(); ++i) {
    std::uint64_t from = input[i].from;
    if (what.empty() || from > 0) {
      what += (what.empty() ? "upload " : ", ") + files[i]->path + resumed_at(from, from + *steps[i].input);
    }
  }
  steps.push_back({remote::seal, {release.id}, release.manifest.size()});
  input.push_back({release.manifest});
  what = files.empty() ? "checking release " + release.id
                       : what + (files.size() > 1 ? " (" + std::to_string(files.size()) + " files)" : "") +
                             " and check release " + release.id;
  CD_TRY(results, run_batch(what, steps, Seconds{600}, input));
  std::vector<const ReleaseFile*> again;
  for (std::size_t i = 0; i < files.size(); ++i) {
    const ExecResult& step = (*results)[i];
    bool resumed = input[i].from > 0;
    if (resumed && (step.exit_status == 3 || step.exit_status == 5)) {
      again.push_back(files[i]); // the part on the node was not the start of this file
    } else if (!step.succeeded()) {
      std::string why = first_line((*results)[0].err.empty() ? step.out : (*results)[0].err);
      return fail(m_node + ": uploading " + files[i]->path + " failed (exit " + std::to_string(step.exit_status) +
                  "): " + why);
    }
  }
  if (again.empty() && !results->back().succeeded()) {
    std::string why = first_line((*results)[0].err.empty() ? results->back().out : (*results)[0].err);
    return fail(m_node + ": checking release " + release.id + " failed (exit " +
                std::to_string(results->back().exit_status) + "): " + why);
  }
  return again;
}

Result<void> NodeOps::upload(const NodeRelease& release, const ReleaseFile& file)
{
  CD_TRY_VOID(may_run(remote::upload));
  std::error_code ec;
  std::uint64_t bytes = std::filesystem::file_size(file.local, ec); // not local_size: here we say why
  if (ec) {
    return fail(m_node + ": uploading " + file.path + ": cannot read " + file.local.string() + ": " + ec.message());
  }
  std::uint64_t from = resume_from(file, bytes);
  auto send = [&](std::uint64_t offset) {
    auto command = root_command(remote::upload, {m_layout.cluster, release.id, file.path, file.sha256,
                                                 std::to_string(bytes), std::to_string(offset)});
    StepLog step(m_node, "upload " + file.path + resumed_at(offset, bytes));
    return m_transport.exec_with_input(command, {{file.local, offset}}, Seconds{600});
  };
  auto result = send(from);
  if (from > 0 && result && (result->exit_status == 3 || result->exit_status == 5)) {
    result = send(0); // the part on the node was not the start of this file: all of it
  }
  if (!result) {
    return fail(m_node + ": uploading " + file.path + ": " + result.error());
  }
  if (!result->succeeded()) {
    return fail(m_node + ": uploading " + file.path + " failed: " + first_line(result->err));
  }
  return {};
}

Result<RelayOpened> NodeOps::open_relay(const KeyPair& key)
{
  CD_TRY(result, run_script("joining the fan-out", remote::relay_open, {key.public_key, remote::relay_receive.text},
                            key.private_key, Seconds{60}));
  RelayOpened opened;
  for (const auto& line : non_empty_lines(result->out)) {
    if (line.starts_with("hostkey ")) {
      opened.host_keys.push_back(line.substr(8));
    } else if (line == "no-ssh-client") {
      opened.can_pass_on = false;
    }
  }
  if (opened.host_keys.empty()) {
    return fail(m_node + ": joining the fan-out: no host key found in /etc/ssh");
  }
  return opened;
}

namespace {

/// "<path>" or "<path> and N more".
std::string some_files(const std::vector<const ReleaseFile*>& files, std::size_t first, std::size_t end)
{
  return files[first]->path + (end - first > 1 ? " and " + std::to_string(end - first - 1) + " more" : "");
}

} // namespace

Result<void> NodeOps::take(const NodeRelease& release, const std::vector<const ReleaseFile*>& files,
                           const RelayPeer* from, const std::string& from_name)
{
  CD_TRY_VOID(may_run(remote::relay_take));
  if (files.empty()) {
    return {};
  }
  auto args_of = [&](std::size_t first, std::size_t end, std::uint64_t& bytes) {
    std::vector<std::string> args = {release.id, from ? from->login : "-", from ? std::to_string(from->port) : "-"};
    for (std::size_t i = first; i < end; ++i) {
      bytes += local_size(*files[i]);
      args.insert(args.end(), {files[i]->path, files[i]->sha256, std::to_string(local_size(*files[i]))});
    }
    return args;
  };
  // Time for the bytes at 1 MiB/s at least, on top of ssh's own bounds (connect, keepalive).
  auto timeout = [](std::uint64_t bytes) { return Seconds{60 + static_cast<long>(bytes / (1024 * 1024))}; };
  if (from != nullptr) {
    std::uint64_t bytes = 0;
    auto args = args_of(0, files.size(), bytes);
    auto result = run_script("taking " + some_files(files, 0, files.size()) + " from " + from_name, remote::relay_take,
                             args, from->known_hosts, timeout(bytes));
    return result ? Result<void>{} : fail(result.error());
  }
  // From the controller: every file streamed from its local copy, one after the other, in one
  // round trip; the node splits them by their lengths as it does a node's stream.
  std::uint64_t bytes = 0;
  auto args = args_of(0, files.size(), bytes);
  args.insert(args.begin(), m_layout.cluster);
  std::vector<InputPart> input;
  for (const ReleaseFile* file : files) {
    input.emplace_back(file->local, 0);
  }
  std::string what = some_files(files, 0, files.size());
  StepLog step(m_node, "take " + what + " from the controller");
  auto result = exec_installed(installed_command(remote::relay_take, args), input, timeout(bytes));
  if (!result) {
    return fail(m_node + ": taking " + what + ": " + result.error());
  }
  if (!result->succeeded()) {
    return fail(m_node + ": taking " + what + " failed: " + first_line(result->err));
  }
  return {};
}

Result<void> NodeOps::pass_on(const NodeRelease& release, const ReleaseFile& file, const RelayPeer& peer,
                              const std::string& peer_name)
{
  // Time for the bytes at 1 MiB/s at least, on top of ssh's own bounds (connect, keepalive).
  Seconds timeout{60 + static_cast<long>(local_size(file) / (1024 * 1024))};
  auto result = run_script("passing " + file.path + " on to " + peer_name, remote::relay_send,
                           {release.id, file.path, file.sha256, peer.login, std::to_string(peer.port)},
                           peer.known_hosts, timeout);
  return result ? Result<void>{} : fail(result.error());
}

Result<std::vector<std::string>> NodeOps::adopt(const NodeRelease& release,
                                                const std::vector<const ReleaseFile*>& files)
{
  std::vector<std::string> args = {release.id};
  for (const ReleaseFile* file : files) {
    args.insert(args.end(), {file->path, file->sha256});
  }
  CD_TRY(result, run_script("checking what was passed on", remote::relay_adopt, args, {}, Seconds{120}));
  std::vector<std::string> resend;
  for (const auto& line : non_empty_lines(result->out)) {
    if (line.starts_with("resend ")) {
      resend.push_back(line.substr(7));
    }
  }
  return resend;
}

Result<void> NodeOps::close_relay()
{
  auto result = run_script("leaving the fan-out", remote::relay_close, {}, {}, Seconds{60});
  return result ? Result<void>{} : fail(result.error());
}

Result<void> NodeOps::seal(const NodeRelease& release)
{
  auto result = run_script("checking release " + release.id, remote::seal, {release.id}, release.manifest);
  return result ? Result<void>{} : fail(result.error());
}

std::string run_id()
{
  // One id per command run, the same on every node: fixed-width milliseconds, so ids sort by time.
  static const std::string id = [] {
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
                  .count();
    std::string digits = std::to_string(ms);
    return "r" + std::string(digits.size() < 15 ? 15 - digits.size() : 0, '0') + digits;
  }();
  return id;
}

Result<void> NodeOps::activate(const NodeRelease& release, const ChangeSet& changes, const std::string& reason,
                               const std::vector<std::string>& restart)
{
  // deploy.log gets "<reason> run=<id>": rollback undoes the newest run (remote/releases.sh).
  std::vector<std::string> args = {release.id, reason + " run=" + run_id(), "--install"};
  args.insert(args.end(), changes.units_to_install.begin(), changes.units_to_install.end());
  args.push_back("--remove");
  args.insert(args.end(), changes.units_to_remove.begin(), changes.units_to_remove.end());
  args.push_back("--enable");
  for (const auto& file : release.files) {
    if (auto unit = NodeLayout::unit_of_release_path(file.path); !unit.empty()) {
      args.push_back(unit);
    }
  }
  args.push_back("--restart");
  args.insert(args.end(), restart.begin(), restart.end());
  auto result = run_script("activating release " + release.id, remote::activate, args, {}, Seconds{120},
                           "cluster-deploy-switch-" + m_layout.cluster);
  return result ? Result<void>{} : fail(result.error());
}

Result<std::optional<LockHolder>> NodeOps::lock(const std::string& who, const std::string& controller, Seconds lease,
                                                 const std::string& dead_run)
{
  std::vector<std::string> args = {run_id(), std::to_string(lease.count()), who, controller};
  if (!dead_run.empty()) {
    args.push_back(dead_run);
  }
  std::vector<BatchStep> steps = {{remote::lock, args}};
  add_steps_read_ahead(steps);
  std::vector<InputPart> input;
  if (m_preflight_with_lock) {
    const PreflightAhead& ahead = *m_preflight_with_lock;
    steps.push_back({remote::preflight, {std::to_string(ahead.bytes), ahead.release_id}, ahead.request.size()});
    input.emplace_back(ahead.request);
  }
  CD_TRY(results, run_batch("taking the lock", steps, Seconds{30}, input, m_preflight_with_lock.has_value()));
  if (m_preflight_with_lock) {
    const ExecResult& asked = results->back(); // "current": it checked nothing
    m_preflight_with_lock->passed = asked.succeeded() && asked.out.find("current") == std::string::npos;
  }
  const ExecResult& result = results->front();
  if (result.exit_status == 5 && result.out.starts_with("locked ")) {
    return std::optional<LockHolder>(parse_lock_holder(result.out));
  }
  if (!result.succeeded()) {
    return fail(m_node + ": taking the lock failed (exit " + std::to_string(result.exit_status) +
                "): " + first_line(result.err));
  }
  (void)keep_read_ahead(*results, 1); // a reading that failed: read_node() asks again and says why
  m_taken_over = describe_stale_lock(result.out);
  return std::optional<LockHolder>{};
}

Result<void> NodeOps::renew_lock()
{
  CD_TRY_VOID(run_script("renewing the lock", remote::renew_lock, {}, {}, Seconds{30}));
  return {};
}

Result<void> NodeOps::unlock()
{
  CD_TRY_VOID(run_script("giving the lock back", remote::unlock, {run_id()}, {}, Seconds{30}));
  return {};
}

Result<void> NodeOps::record_started(const std::string& service, const std::string& digest)
{
  if (auto it = m_recorded.find(service); it != m_recorded.end() && it->second == digest) {
    return {};
  }
  auto result = run_script("recording " + service, remote::record_started, {service, digest});
  if (!result) {
    return fail(result.error());
  }
  m_recorded[service] = digest;
  return {};
}

Result<void> NodeOps::systemctl(const std::string& verb, const std::string& service)
{
  auto result = run_script("systemctl " + verb + " " + service, remote::systemctl, {verb, service});
  return result ? Result<void>{} : fail(result.error());
}

Result<UnitState> NodeOps::unit_state(const std::string& service)
{
  CD_TRY(result, run_script("reading state of " + service, remote::unit_state, {service, "-"}, {}, Seconds{30}));
  return parse_unit_state(result->out);
}

Result<NodeOps::Look> NodeOps::unit_state_and_probe(const std::string& service, const std::string& probe,
                                                   const std::optional<RecordIf>& record,
                                                   std::chrono::milliseconds await)
{
  std::vector<BatchStep> steps;
  std::string what = "reading state of " + service + ", as the service user: " + probe;
  if (await.count() > 0) { // its answer is the probe's below, run again right after the state
    steps.push_back({remote::as_service_user, {probe, "-", std::to_string(await.count())}});
    what = "awaiting " + std::to_string(await.count()) + " ms, then " + what;
  }
  const std::size_t first = steps.size();
  steps.push_back({remote::unit_state, {service, "-"}});
  steps.push_back({remote::as_service_user, {probe}});
  if (record) {
    std::vector<std::string> args = {service, record->digest,
                                     record->main_pid > 0 ? std::to_string(record->main_pid) : "running"};
    if (record->active_for.count() > 0) {
      args.push_back(std::to_string(record->active_for.count()));
      args.push_back(std::to_string(record->since_asked.count()));
    }
    steps.push_back({remote::record_started, std::move(args)});
    what += ", recording it if healthy";
  }
  CD_TRY(results, run_batch(what, steps, Seconds{30} + std::chrono::duration_cast<Seconds>(await)));
  const ExecResult& state = (*results)[first];
  if (!state.succeeded()) {
    return fail(m_node + ": reading state of " + service + " failed (exit " + std::to_string(state.exit_status) +
                "): " + first_line(state.err.empty() ? results->front().err : state.err));
  }
  Look look{parse_unit_state(state.out), std::move((*results)[first + 1])};
  if (record && (*results)[first + 2].succeeded()) {
    m_recorded[service] = record->digest;
  }
  return look;
}

Result<std::string> NodeOps::journal_tail(const std::string& service, int lines)
{
  CD_TRY(result,
         run_script("reading journal", remote::journal, {std::to_string(lines), "", "once", service}, {}, Seconds{30}));
  return result->out;
}

void NodeOps::preflight_with_lock(const NodeRelease& release)
{
  ChangeSet whole = compute_changes(release, RemoteState{});
  m_preflight_with_lock = PreflightAhead{release.id, preflight_request(release, whole), whole.bytes_to_send};
}

Result<void> NodeOps::preflight(const NodeRelease& release, const ChangeSet& changes)
{
  if (const auto& ahead = m_preflight_with_lock;
      ahead && ahead->passed && ahead->release_id == release.id && changes.bytes_to_send <= ahead->bytes) {
    return {}; // asked with the lock, for more than this change needs
  }
  StepLog step(m_node, "preflight");
  auto result = exec_installed(installed_command(remote::preflight, {m_layout.cluster, std::to_string(changes.bytes_to_send)}),
                                {InputPart{preflight_request(release, changes)}}, Seconds{60});
  if (!result) {
    return fail(m_node + ": checking the node: " + result.error());
  }
  if (result->succeeded()) {
    return {};
  }
  std::string problems; // every line: the user fixes them all at once
  for (const auto& line : non_empty_lines(result->err.empty() ? result->out : result->err)) {
    problems += (problems.empty() ? "" : "; ") + line;
  }
  if (result->exit_status != 6 && result->exit_status != 4) {
    problems = "checking the node failed (exit " + std::to_string(result->exit_status) + "): " + problems;
  }
  return fail(m_node + ": " + problems);
}

Result<void> NodeOps::clean(const std::vector<std::string>& services, bool purge_data)
{
  std::vector<std::string> args = {purge_data ? "purge" : "keep"};
  args.insert(args.end(), services.begin(), services.end());
  auto result = run_script("cleaning", remote::clean, args, {}, Seconds{300});
  return result ? Result<void>{} : fail(result.error());
}

Result<std::string> NodeOps::set_aside_data(const std::string& service)
{
  CD_TRY(result, run_script("setting aside the data of " + service, remote::set_aside_data, {service}));
  auto lines = non_empty_lines(result->out);
  return lines.empty() ? std::string{} : lines.front();
}

Result<void> NodeOps::note_member(const std::string& service, const std::string& member, const std::string& what)
{
  auto result = run_script("noting that " + member + " " + what, remote::member_event, {service, member, what});
  return result ? Result<void>{} : fail(result.error());
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
  std::vector<std::string> words = {id, std::to_string(seconds), sha256_hex(remote::heal.text), kind};
  words.insert(words.end(), args.begin(), args.end());
  auto result = run_script(kind + " fault", remote::fault, words, remote::heal.text, Seconds{60});
  return result ? Result<void>{} : fail(result.error());
}

Result<std::vector<std::string>> NodeOps::heal_faults(const std::string& only)
{
  std::vector<std::string> args;
  if (!only.empty()) {
    args.push_back(only);
  }
  CD_TRY(result, run_script("healing faults", remote::heal, args, {}, Seconds{60}));
  std::vector<std::string> healed;
  std::istringstream in(result->out);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) {
      healed.push_back(line);
    }
  }
  return healed;
}

Result<std::vector<ExecResult>> NodeOps::run_batch(const std::string& what, const std::vector<BatchStep>& steps,
                                                   Seconds timeout, const std::vector<InputPart>& input,
                                                   bool install_first)
{
  std::vector<std::string> lines;
  std::vector<InputPart> parts = input;
  std::string before;
  if (install_first) { // all its bytes read, whatever sh -s does with them
    parts.insert(parts.begin(), InputPart{installer_text()});
    before = "head -c " + std::to_string(installer_text().size()) + " | { sh -s >/dev/null 2>&1; cat >/dev/null; }\n";
  }
  for (const auto& step : steps) {
    CD_TRY_VOID(may_run(step.script));
    std::vector<std::string> words = {installed_scripts_dir() + "/" + step.script.name, m_layout.cluster};
    words.insert(words.end(), step.args.begin(), step.args.end());
    std::string line = "( cd_step " + shell_join(words) + " )";
    if (step.input && *step.input > 0) {
      // Exactly its bytes (GNU head reads no more than it passes on), all of them even when the
      // step stops reading early (it drains the rest): the next step's bytes come next.
      line = "head -c " + std::to_string(*step.input) + " | ( " + line + "; cd_rc=$?; cat >/dev/null; exit $cd_rc )";
    } else if (!parts.empty()) {
      line += " </dev/null";
    }
    lines.push_back(line);
  }
  StepLog log(m_node, what);
  CD_TRY(result, [&]() -> Result<ExecResult> {
    auto exec = exec_installed(batch_command(lines, before), parts, timeout);
    if (!exec) {
      log.result(exec.error());
    }
    return exec ? exec : Result<ExecResult>{fail(m_node + ": " + what + ": " + exec.error())};
  }());
  std::vector<ExecResult> results;
  std::string out;
  std::istringstream in(result->out);
  const std::string marker = std::string(k_batch_marker) + " ";
  for (std::string line; std::getline(in, line);) {
    if (!line.starts_with(marker)) {
      out += line + "\n";
      continue;
    }
    ExecResult step{std::atoi(line.c_str() + marker.size()), "", std::move(out), ""};
    results.push_back(std::move(step));
    out.clear();
  }
  if (results.size() != steps.size()) {
    return fail(m_node + ": " + what + ": the node answered " + std::to_string(results.size()) + " of " +
                std::to_string(steps.size()) + " steps (exit " + std::to_string(result->exit_status) +
                "): " + first_line(result->err));
  }
  results.front().err = result->err;
  return results;
}

Result<NodeSnapshot> NodeOps::snapshot(const std::vector<std::string>& services,
                                       const std::map<std::string, std::string>& asks)
{
  std::vector<BatchStep> steps = {{remote::current, {}}, {remote::drift, {}}, {remote::list_faults, {}}};
  for (const auto& service : services) {
    steps.push_back({remote::unit_state, {service, "failures"}});
  }
  add_ask_steps(steps, asks);
  CD_TRY(results, run_batch("reading status", steps, Seconds{60}));
  keep_answers(*results, 3 + services.size(), asks);
  auto failed = [&](const ExecResult& step, const std::string& what) {
    return fail(m_node + ": " + what + " failed (exit " + std::to_string(step.exit_status) + ")");
  };
  const auto& r = *results;
  NodeSnapshot snapshot;
  if (r[0].succeeded()) {
    std::string target = first_line(r[0].out);
    snapshot.release = target.substr(target.rfind('/') + 1);
  } else {
    snapshot.release = failed(r[0], "reading current release");
  }
  snapshot.drift = r[1].succeeded() ? Result<std::vector<std::string>>(non_empty_lines(r[1].out))
                                    : Result<std::vector<std::string>>(failed(r[1], "checking drift"));
  snapshot.faults = r[2].succeeded() ? Result<std::vector<ActiveFault>>(parse_active_faults(r[2].out))
                                     : Result<std::vector<ActiveFault>>(failed(r[2], "listing faults"));
  for (size_t i = 0; i < services.size(); ++i) {
    const ExecResult& step = r[3 + i];
    snapshot.units.emplace_back(services[i], step.succeeded()
                                                 ? Result<UnitState>(parse_unit_state(step.out))
                                                 : Result<UnitState>(failed(step, "reading state of " + services[i])));
  }
  return snapshot;
}

Result<RollbackTarget> NodeOps::rollback_target(const std::string& wanted)
{
  std::vector<std::string> args;
  if (!wanted.empty()) {
    args.push_back(wanted);
  }
  CD_TRY(result, run_script("looking for the release to go back to", remote::releases, args, {}, Seconds{30}));
  return parse_rollback_target(result->out);
}

} // namespace deploy
