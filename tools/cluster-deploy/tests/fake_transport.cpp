#include "fake_transport.hpp"

#include "hash.hpp"
#include "node_ops.hpp"

#include <algorithm>
#include <fstream>
#include <iterator>
#include <mutex>
#include <sstream>

namespace deploy::testing {
namespace {

/// The script's name ($0: "state.sh", ...) and its arguments from an installed_command() or
/// root_command() line, whose words are: sh -c <as-root.sh> as-root.sh env CLUSTER_DEPLOY_RUN=<id>
/// sh -c <loader or script> <path or name>, then <args>...; for a switch the installed path is
/// detach.sh's and its first two args are the unit and the script's name.
std::pair<std::string, std::vector<std::string>> script_and_args(const std::string& command)
{
  auto words = split_quoted(command);
  if (words.size() < 10 || words[3] != "as-root.sh" || !words[9].ends_with(".sh")) {
    return {command, {}};
  }
  // installed_command() names the installed script by its path; root_command() by its name.
  auto name = std::filesystem::path(words[9]).filename().string();
  if (name == "detach.sh" && words.size() >= 12) {
    return {words[11], std::vector<std::string>(words.begin() + 12, words.end())};
  }
  return {name, std::vector<std::string>(words.begin() + 10, words.end())};
}

/// The transient unit an installed_command() line runs its script as (detach.sh), or "".
std::string unit_of_command(const std::string& command)
{
  auto words = split_quoted(command);
  return words.size() > 11 && std::filesystem::path(words[9]).filename() == "detach.sh" ? words[10] : "";
}

std::string unit_of(const std::vector<std::string>& args)
{
  return args.at(0) + "-" + args.at(1) + ".service";
}

std::string manifest_files_text(const std::string& manifest)
{
  std::istringstream in(manifest);
  std::string line, text;
  while (std::getline(in, line)) {
    text += "file " + line + "\n";
  }
  return text;
}

} // namespace

std::vector<std::string> split_quoted(const std::string& line)
{
  std::vector<std::string> words;
  std::string word;
  bool in_word = false, quoted = false, escaped = false;
  for (char c : line) {
    if (escaped) {
      word += c;
      escaped = false;
    } else if (quoted) {
      if (c == '\'') {
        quoted = false;
      } else {
        word += c;
      }
    } else if (c == '\'') {
      quoted = in_word = true;
    } else if (c == '\\') {
      escaped = in_word = true;
    } else if (c == ' ') {
      if (in_word) {
        words.push_back(word);
      }
      word.clear();
      in_word = false;
    } else {
      word += c;
      in_word = true;
    }
  }
  if (in_word) {
    words.push_back(word);
  }
  return words;
}

void FakeTransport::systemctl_call(const std::string& verb, const std::string& unit)
{
  m_node.systemctl.push_back(verb + " " + unit);
  if (m_node.order) { // shared by the nodes, which run in parallel
    static std::mutex order_mutex;
    std::lock_guard lock(order_mutex);
    m_node.order->push_back(m_node.name + " " + verb + " " + unit);
  }
  if (m_node.on_systemctl) {
    m_node.on_systemctl(verb + " " + unit);
  }
  if (verb == "stop") {
    m_node.active.erase(unit);
    return;
  }
  if (verb == "restart" && m_node.active.count(unit)) {
    m_node.restarts[unit]++;
  }
  m_node.active.insert(unit);
}

ExecResult FakeTransport::handle(const std::vector<std::string>& args, const std::string& script,
                                 std::string_view input)
{
  ExecResult ok{0, "", "", ""};
  if (script == "fault.sh") { // cluster id seconds heal-sha256 kind args...
    std::string fault = args.at(4);
    for (size_t i = 5; i < args.size(); ++i) {
      fault += " " + args[i];
    }
    m_node.faults.push_back(fault);
    ok.exit_status = m_node.fault_exit;
    return ok;
  }
  if (script == "heal.sh") {
    for (const auto& fault : m_node.faults) {
      ok.out += "healed f1 " + fault.substr(0, fault.find(' ')) + "\n";
    }
    m_node.faults.clear();
    return ok;
  }
  if (script == "list-faults.sh") {
    ok.out = "now 100\n";
    for (const auto& fault : m_node.faults) { // "<kind> <args>": a unit fault names its units, as the record does
      std::string kind = fault.substr(0, fault.find(' '));
      std::string units = is_link_fault(kind) || fault.find(' ') == std::string::npos ? "" : fault.substr(kind.size());
      if (kind == "clock") { // "clock <offset> <unit>...": the offset is no unit
        units = units.substr(units.find(' ', 1));
      } else if (kind == "disk-full" || kind == "corrupt") { // services: the record names their units
        std::istringstream words(fault.substr(kind.size()));
        std::vector<std::string> services{std::istream_iterator<std::string>(words), {}};
        if (kind == "corrupt") { // "corrupt <mode> <number> <service> <file>"
          services = {services.at(2)};
        }
        units.clear();
        for (const auto& service : services) {
          units += " " + args.at(0) + "-" + service + ".service";
        }
      }
      ok.out += "fault f1 " + kind + " 130" + units + "\n";
    }
    return ok;
  }
  if (script == "as-service-user.sh") { // HEALTH exec probes, QUORUM checks, LEADER queries
    m_node.service_user_commands.push_back(args.at(1));
    if (args.size() > 3) { // runs until it passes: here once, the test's answer says when it does
      m_node.awaits.push_back(args[3]);
    }
    if (m_node.service_user_answer) {
      ok.exit_status = m_node.service_user_answer(args.at(1), ok.out);
      return ok;
    }
    ok.out = m_node.leader_answer;
    for (const auto& [needle, code] : m_node.exec_exits) {
      if (args.size() > 1 && args[1].find(needle) != std::string::npos) {
        ok.exit_status = code;
      }
    }
    return ok;
  }
  if (script == "current.sh") {
    ok.out = m_node.current.empty() ? "" : "releases/" + m_node.current + "\n"; // readlink of a relative link
  } else if (script == "drift.sh") {
    for (const auto& path : m_node.edited) {
      ok.out += path + "\n";
    }
  } else if (script == "state.sh") {
    ok.out = "current " + m_node.current + "\n";
    for (const auto& [id, manifest] : m_node.manifests) {
      ok.out += "release " + id + "\n";
    }
    if (m_node.manifests.count(m_node.current)) {
      ok.out += manifest_files_text(m_node.manifests[m_node.current]);
    }
    for (const auto& [unit, sha] : m_node.units) {
      ok.out += "unit " + sha + " " + unit + "\n";
    }
    for (const auto& [service, digest] : m_node.started) {
      ok.out += "started " + service + " " + digest + "\n";
    }
    if (!m_node.locked_by.empty()) {
      ok.out += "lock " + m_node.locked_by + "\n";
    }
  } else if (script == "prepare.sh") {
    for (size_t i = 2; i + 2 < args.size(); i += 3) {
      if (m_node.edited.count(args[i])) {
        ok.out += "resend " + args[i + 1] + "\n";
      }
    }
    for (const auto& [sha, bytes] : m_node.partials) {
      ok.out += "partial " + sha + " " + std::to_string(bytes) + "\n";
    }
  } else if (script == "record-started.sh") { // cluster service digest [pid|running [least most]]: see the script
    bool runs = m_node.active.count(unit_of(args)) != 0 && (args.size() < 4 || args[3] == "running" || args[3] == "42") &&
                (args.size() < 6 || (m_node.active_ms >= std::stol(args[4]) && m_node.active_ms <= std::stol(args[5])));
    if (args.size() > 3 && (m_step_before != 0 || !runs)) {
      return ExecResult{3, "", "", ""};
    }
    m_node.started[args.at(1)] = args.at(2);
  } else if (script == "preflight.sh") { // cluster bytes [release]: see the script
    if (args.size() > 2 && !m_node.current.empty() && m_node.current == args[2]) {
      ok.out = "current\n";
      return ok;
    }
    m_node.preflight_requests.emplace_back(input);
    if (!m_node.preflight_problem.empty()) {
      return ExecResult{6, "", "", m_node.preflight_problem + "\n"};
    }
  } else if (script == "relay-open.sh") {
    if (!m_node.relay_refused.empty()) {
      return ExecResult{4, "", "", m_node.relay_refused + "\n"};
    }
    m_node.relay_open = true;
    m_node.relay_private_key = std::string(input);
    m_node.relay_open_args = args;
    ok.out = "hostkey ssh-ed25519 AAAAfakehostkeyof" + m_node.name + "\n";
  } else if (script == "relay-send.sh") { // cluster release path sha login port
    m_node.passed_on.push_back(args.at(2) + " " + args.at(4) + " " + args.at(5));
    if (m_node.pass_on_fails) {
      return ExecResult{255, "", "", "ssh: connect to host: Connection timed out\n"};
    }
  } else if (script == "relay-take.sh") { // cluster release login|- port|- [path sha bytes]...
    if (m_node.take_fails) {
      return ExecResult{3, "", "", args.at(4) + ": 0 of " + args.at(6) + " bytes arrived from " + args.at(2) + "\n"};
    }
    for (std::size_t i = 4; i + 2 < args.size(); i += 3) {
      if (args.at(2) == "-") { // from the controller: the files' contents on stdin
        m_node.uploaded.push_back(args[i]);
        m_node.uploaded_from.push_back(0);
        m_node.uploaded_bytes += std::stoull(args.at(i + 2));
      } else {
        m_node.taken.push_back(args[i] + " " + args.at(2) + " " + args.at(3));
      }
    }
  } else if (script == "relay-adopt.sh") { // cluster release [path sha]...
    for (size_t i = 2; i + 1 < args.size(); i += 2) {
      if (m_node.arrives_damaged.count(args[i])) {
        ok.out += "resend " + args[i] + "\n";
      } else {
        m_node.adopted.push_back(args[i]);
      }
    }
  } else if (script == "relay-close.sh") {
    m_node.relay_open = false;
  } else if (script == "upload.sh") { // cluster release path sha bytes from (in a batch); alone, upload_file
    std::uint64_t from = std::stoull(args.at(5));
    m_node.uploaded.push_back(args.at(2));
    m_node.uploaded_from.push_back(from);
    m_node.uploaded_bytes += input.size();
    if (from > 0 && m_node.partials_damaged) {
      return ExecResult{3, "", "", args.at(2) + " arrived damaged (its sha256 differs)\n"};
    }
    m_node.partials.erase(args.at(3));
  } else if (script == "seal.sh") {
    m_node.manifests[args.at(1)] = std::string(input);
  } else if (script == "activate.sh") { // cluster release reason --install ... --enable ... --restart ...
    m_node.current = args.at(1);
    auto restart = std::find(args.begin(), args.end(), "--restart");
    std::istringstream in(m_node.manifests[m_node.current]);
    std::string sha, path;
    while (in >> sha >> path) {
      if (path.starts_with("units/")) {
        for (auto arg = args.begin() + 2; arg != restart; ++arg) {
          if ("units/" + *arg == path) {
            m_node.units[*arg] = sha;
          }
        }
      }
    }
    for (auto service = restart == args.end() ? restart : restart + 1; service != args.end(); ++service) {
      systemctl_call("restart", args.at(0) + "-" + *service + ".service");
    }
    if (m_node.activate_fails > 0) { // as a prune that fails after the switch and restart
      --m_node.activate_fails;
      return ExecResult{1, "", "rm: cannot remove 'releases/.prune-x': Device or resource busy\n", ""};
    }
  } else if (script == "clean.sh") {
    m_node.cleaned = true;
    m_node.current.clear();
    m_node.manifests.clear();
    m_node.units.clear();
    m_node.active.clear();
    m_node.started.clear();
    if (args.at(1) == "purge") {
      m_node.data_purged = true;
    }
  } else if (script == "systemctl.sh") {
    systemctl_call(args.at(1), args.at(0) + "-" + args.at(2) + ".service");
  } else if (script == "unit-state.sh") {
    const std::string unit = unit_of(args);
    bool up = m_node.active.count(unit) != 0;
    ok.out = std::string("LoadState=loaded\nActiveState=") +
             (up ? "active\nSubState=running\nMainPID=42\n" : "inactive\nSubState=dead\nMainPID=0\n") +
             "Result=" + (m_node.results.count(unit) ? m_node.results.at(unit) : "success") + "\n" +
             "NRestarts=" + std::to_string(m_node.restarts.count(unit) ? m_node.restarts.at(unit) : 0) + "\n";
    if (up && m_node.active_ms >= 0) {
      ok.out += "UptimeMs=" + std::to_string(m_node.active_ms) + "\n";
    }
    if (args.size() > 2 && args.at(2) == "failures" && m_node.failures.count(unit)) {
      for (const auto& failure : m_node.failures.at(unit)) {
        ok.out += "Failure=" + failure + "\n";
      }
    }
  } else if (script == "lock.sh") {
    const std::string dead = args.size() > 5 ? args.at(5) : "";
    if (!m_node.locked_by.empty() && m_node.locked_by != args.at(1) && m_node.locked_by != dead) {
      return ExecResult{5,
                        "",
                        "locked ci@runner pid 4242 deploy since 2026-11-27T10:00:00Z 300\nholder " + m_node.locked_by +
                            " " + m_node.lock_controller + "\n",
                        ""};
    }
    if (!m_node.locked_by.empty() && m_node.locked_by == dead) {
      ok.out = "stale " + dead + " dead ci@runner pid 4242 deploy since 2026-11-27T10:00:00Z\n";
    }
    m_node.locked_by = args.at(1);
    m_node.lock_controller = args.at(4);
    m_node.lock_holders.push_back(args.at(3));
  } else if (script == "unlock.sh") {
    if (m_node.locked_by == args.at(1)) {
      m_node.locked_by.clear();
    }
  } else if (script == "collect.sh") {
    m_node.collect_requests.push_back(args);
    ok.out = m_node.collect_output;
  } else if (script == "member-event.sh") { // cluster service member what
    m_node.member_events.push_back(args.at(2) + " " + args.at(3));
  } else if (script == "set-aside-data.sh") { // cluster service
    if (m_node.cleaned && !m_node.data_purged) { // a member that was retired comes back
      ok.out = "/var/lib/" + args.at(0) + "/" + args.at(1) + ".left-20261205T120000Z\n";
      m_node.set_aside.push_back(args.at(1));
    }
  } else if (script != "journal.sh") {
    ok = ExecResult{127, "", "", script + ": no such script in the fake"};
  }
  return ok;
}

Result<ExecResult> FakeTransport::exec(const std::string& command, std::string_view stdin_data, Seconds)
{
  ++m_node.round_trips;
  auto words = split_quoted(command);
  if (words.size() == 8 && words[7] == "batch.sh") { // NodeOps::run_batch: one step per k_batch_step_end
    ExecResult all{0, "", "", ""};
    std::string text = words[6];
    text.erase(0, text.find(k_batch_prologue) + k_batch_prologue.size()); // and the run id before it
    std::size_t taken = 0; // of stdin_data: a step's input is "head -c <bytes> | ( <step>; <drain> )"
    if (text.starts_with("head -c ") && text.find(" | { sh -s") < text.find('\n')) { // the installer first
      std::size_t bytes = std::stoul(text.substr(8));
      m_node.installs.push_back(std::string(stdin_data.substr(0, bytes)));
      m_node.scripts_installed = true;
      taken = bytes;
      text.erase(0, text.find('\n') + 1);
    }
    std::string batch;
    for (size_t start = 0, end; (end = text.find(k_batch_step_end, start)) != std::string::npos;
         start = end + k_batch_step_end.size()) {
      std::string line = text.substr(start, end - start);
      std::string_view input;
      if (line.starts_with("head -c ")) {
        std::size_t bytes = std::stoul(line.substr(8));
        input = stdin_data.substr(std::min(taken, stdin_data.size()), bytes);
        taken += bytes;
        line = line.substr(line.find("| ( ") + 4);
        line = line.substr(0, line.rfind("; cd_rc=$?"));
      }
      auto step = split_quoted(line);
      if (step.back() == "</dev/null") {
        step.pop_back();
      }
      if (step.at(0) != "(" || step.at(1) != "cd_step" || step.back() != ")") {
        return fail("the fake cannot read the batch step " + text.substr(start, end - start));
      }
      std::string script = std::filesystem::path(step.at(2)).filename().string();
      m_node.commands.push_back(script);
      batch += (batch.empty() ? "" : " ") + script;
      auto result = m_node.scripts_installed
                        ? handle(std::vector<std::string>(step.begin() + 3, step.end() - 1), script, input)
                        : ExecResult{199, "", "", "cluster-deploy: node scripts missing\n"};
      m_step_before = result.exit_status;
      all.out += result.out + "\n" + std::string(k_batch_marker) + " " + std::to_string(result.exit_status) + "\n";
      all.err += result.err;
    }
    m_node.batches.push_back(batch);
    return all;
  }
  if (words.size() == 6 && words[3] == "as-root.sh" && words[5] == "-s") { // NodeOps: installing the scripts
    m_node.installs.push_back(std::string(stdin_data));
    m_node.scripts_installed = true;
    return ExecResult{0, "", "", ""};
  }
  auto [script, args] = script_and_args(command);
  m_node.commands.push_back(script);
  if (!m_node.scripts_installed && words.size() > 9 && words[8].starts_with("[ -O")) {
    return ExecResult{199, "", "", "cluster-deploy: node scripts missing\n"}; // the loader finds none
  }
  if (auto unit = unit_of_command(command); !unit.empty()) {
    m_node.in_units.push_back(script + " " + unit);
  }
  return handle(args, script, stdin_data);
}

Result<ExecResult> FakeTransport::exec_with_input(const std::string& command, const std::vector<InputPart>& input,
                                                  Seconds timeout)
{
  auto words = split_quoted(command);
  if (!(words.size() == 8 && words[7] == "batch.sh") && input.size() == 1 && !input[0].file.empty()) {
    return upload_file(command, input[0].file, input[0].from);
  }
  std::string data;
  for (const auto& part : input) {
    if (part.file.empty()) {
      data += part.bytes;
      continue;
    }
    std::ifstream in(part.file, std::ios::binary);
    in.seekg(static_cast<std::streamoff>(part.from));
    data.append(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  return exec(command, data, timeout);
}

Result<ExecResult> FakeTransport::upload_file(const std::string& command, const std::filesystem::path& local_file,
                                              std::uint64_t from)
{
  ++m_node.round_trips;
  ++m_node.file_trips;
  auto [script, args] = script_and_args(command);
  std::size_t path = script == "relay-take.sh" ? 4 : 2; // relay-take.sh: cluster release - - path sha bytes
  m_node.uploaded.push_back(args.at(path));
  m_node.uploaded_from.push_back(from);
  std::error_code ec;
  m_node.uploaded_bytes += std::filesystem::file_size(local_file, ec) - from;
  if (from > 0 && m_node.partials_damaged) {
    return ExecResult{3, "", "", args.at(path) + " arrived damaged (its sha256 differs)\n"};
  }
  m_node.partials.erase(args.at(path + 1));
  return ExecResult{0, "", "", ""};
}

Result<int> FakeTransport::exec_streaming(const std::string& command, const ChunkSink& sink, Seconds)
{
  auto [script, args] = script_and_args(command);
  m_node.commands.push_back(script);
  if (script != "journal.sh") {
    return 127;
  }
  m_node.journal_requests.push_back(args);
  for (const auto& line : m_node.journal) {
    if (!sink(line + "\n")) {
      break;
    }
  }
  return 0;
}

Result<std::string> FakeTransport::tcp_request(int, std::string_view, Seconds)
{
  if (m_node.healthy_if ? !m_node.healthy_if() : !m_node.healthy) {
    return std::string("HTTP/1.0 503 Service Unavailable\r\n\r\n");
  }
  return std::string("HTTP/1.0 200 OK\r\n\r\n{\"health\":\"true\"}");
}

} // namespace deploy::testing
