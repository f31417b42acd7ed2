#include "evidence.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <ctime>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <sys/stat.h>

namespace deploy {
namespace {

using nlohmann::json;

std::string field(const json& entry, const char* name)
{
  auto it = entry.find(name);
  if (it == entry.end() || it->is_null()) {
    return {};
  }
  if (it->is_string()) {
    return it->get<std::string>();
  }
  if (it->is_array()) { // journald's form of a field that is not valid UTF-8: its bytes
    std::string bytes;
    for (const auto& b : *it) {
      bytes += b.is_number() ? static_cast<char>(b.get<int>()) : '?';
    }
    return json(bytes).get<std::string>();
  }
  return it->dump();
}

long number(const std::string& text, long fallback)
{
  try {
    return text.empty() ? fallback : std::stol(text);
  } catch (const std::exception&) {
    return fallback;
  }
}

std::optional<JournalEntry> parse_journal_line(std::string_view line)
{
  json entry = json::parse(line, nullptr, false);
  if (entry.is_discarded() || !entry.is_object()) {
    return std::nullopt;
  }
  JournalEntry e;
  e.time = static_cast<double>(number(field(entry, "__REALTIME_TIMESTAMP"), 0)) / 1e6;
  e.ident = field(entry, "SYSLOG_IDENTIFIER");
  if (e.ident.empty()) {
    e.ident = field(entry, "_COMM");
  }
  e.pid = number(field(entry, "_PID"), 0);
  e.priority = static_cast<int>(number(field(entry, "PRIORITY"), 6));
  e.unit = field(entry, "UNIT");
  if (e.unit.empty()) {
    e.unit = field(entry, "COREDUMP_UNIT");
  }
  if (e.unit.empty()) {
    e.unit = field(entry, "_SYSTEMD_UNIT");
  }
  e.message_id = field(entry, "MESSAGE_ID");
  e.message = field(entry, "MESSAGE");
  return e;
}

std::string journal_text(const std::vector<JournalEntry>& journal)
{
  std::string text;
  for (const auto& e : journal) {
    text += iso_time(e.time) + " " + e.ident + (e.pid ? "[" + std::to_string(e.pid) + "]" : "") + ": " + e.message +
            "\n";
  }
  return text;
}

/// What systemd's line about a unit says it did ("" when it is not a start, stop or crash).
/// MESSAGE_IDs from systemd's sd-messages.h; the text covers systemd 247, which sets no id
/// on a process's exit.
std::string service_event(const JournalEntry& e)
{
  static const std::map<std::string, std::string> by_id = {
      {"39f53479d3a045ac8e11786248231fbf", "started"},    {"9d1aaa27d60140bd96365438aad20286", "stopped"},
      {"be02cf6855d2428ba40df7e9d022f03d", "failed"},     {"5eb03494b6584870a536b337290809b3", "restarting"},
      {"fc2e22bc6ee647b6b90729ab34a250b1", "core dump"},
  };
  if (auto it = by_id.find(e.message_id); it != by_id.end()) {
    return it->second;
  }
  const std::string& m = e.message;
  if (m.find("Main process exited, code=killed") != std::string::npos ||
      m.find("Main process exited, code=dumped") != std::string::npos ||
      (m.find("Main process exited, code=exited") != std::string::npos &&
       m.find("status=0/SUCCESS") == std::string::npos)) {
    return "crashed";
  }
  return {};
}

/// A Raft library's line saying this member now leads: etcd's raft ("became leader at term"),
/// hashicorp/raft ("entering leader state"). Other services' leader changes do not show.
bool became_leader(const std::string& message)
{
  return message.find("became leader at term") != std::string::npos ||
         message.find("entering leader state") != std::string::npos;
}

} // namespace

bool write_file(const std::filesystem::path& path, const std::string& text)
{
  mode_t old_mask = ::umask(077); // journals may hold what a service logged: this user's alone
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  ::umask(old_mask);
  out << text;
  return static_cast<bool>(out);
}

namespace {

std::string clock_time(double seconds)
{
  return iso_time(seconds).substr(11, 12); // HH:MM:SS.mmm
}

std::string fault_json(const FaultSpan& f)
{
  json j = {{"node", f.node}, {"id", f.id}, {"kind", f.kind}, {"detail", f.detail}, {"start", iso_time(f.start)}};
  j["healed"] = f.healed ? json(iso_time(*f.healed)) : json(nullptr);
  return j.dump();
}

/// The lines of the test's output that say why it failed: those with FAIL or error in them,
/// else its last lines.
std::vector<std::string> failure_lines(const std::string& output)
{
  std::vector<std::string> lines, said;
  std::istringstream in(output);
  for (std::string line; std::getline(in, line);) {
    lines.push_back(line);
    if (line.find("FAIL") != std::string::npos || line.find("error") != std::string::npos) {
      said.push_back(line);
    }
  }
  if (said.empty()) {
    said.assign(lines.end() - std::min<std::size_t>(lines.size(), 3), lines.end());
  }
  if (said.size() > 5) {
    said.erase(said.begin(), said.end() - 5);
  }
  return said;
}

} // namespace

std::string iso_time(double seconds)
{
  auto whole = static_cast<std::time_t>(std::floor(seconds));
  int millis = static_cast<int>(std::lround((seconds - static_cast<double>(whole)) * 1000));
  if (millis == 1000) {
    ++whole;
    millis = 0;
  }
  std::tm tm{};
  gmtime_r(&whole, &tm);
  char text[64];
  std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
  return text;
}

void parse_node_evidence(std::string_view text, std::size_t max_journal_bytes, NodeEvidence& node)
{
  std::string section;
  std::size_t journal_bytes = 0;
  std::string* target = nullptr;
  while (!text.empty()) {
    auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    if (line.starts_with("== ")) {
      section = line.substr(3);
      target = section == "status" ? &node.status
               : section == "kernel" ? &node.kernel
               : section == "cores"  ? &node.cores
                                     : nullptr;
      continue;
    }
    if (section == "journal") {
      journal_bytes += line.size() + 1;
      if (line.empty()) {
        continue;
      }
      if (auto entry = parse_journal_line(line)) {
        node.journal.push_back(std::move(*entry));
      } else if (line.front() != '{') {
        node.journal_error += std::string(line) + "\n";
      }
    } else if (section == "current" && !line.empty()) {
      node.current = line;
    } else if (target) {
      *target += std::string(line) + "\n";
    }
  }
  node.journal_truncated = journal_bytes > max_journal_bytes;
  std::stable_sort(node.journal.begin(), node.journal.end(),
                   [](const JournalEntry& a, const JournalEntry& b) { return a.time < b.time; });
}

void find_faults_and_events(Evidence& evidence)
{
  static const std::regex fault_line(R"(^fault (\S+) (\S+)(?: for \d+s)?: ?(.*)$)");
  static const std::regex healed_line(R"(^healed (\S+) (\S+)$)");
  static const std::regex member_line(R"(^member (\S+) (\S+) (joined|left)$)");
  const std::string tag = "cluster-deploy-" + evidence.cluster;
  for (const auto& node : evidence.nodes) {
    std::map<std::string, std::size_t> open; // fault id -> index in evidence.faults
    for (const auto& e : node.journal) {
      std::smatch m;
      if (e.ident == tag && std::regex_match(e.message, m, fault_line)) {
        FaultSpan f{node.name, m[1], m[2], m[3], e.time, std::nullopt};
        if (f.kind == "kill") {
          f.healed = e.time; // instant: the service's own restart is the rest of the story
        } else {
          open[f.id] = evidence.faults.size();
        }
        evidence.faults.push_back(std::move(f));
      } else if (e.ident == tag && std::regex_match(e.message, m, healed_line)) {
        auto it = open.find(m[1]);
        if (it != open.end()) {
          evidence.faults[it->second].healed = e.time;
          open.erase(it);
        } else { // applied before the window began
          evidence.faults.push_back({node.name, m[1], m[2], "(on before the window)", evidence.since, e.time});
        }
      } else if (e.ident == tag && std::regex_match(e.message, m, member_line)) {
        evidence.events.push_back({e.time, node.name, m[1], "member " + m[2].str() + " " + m[3].str(), e.message});
      } else if (std::string what = e.ident == "systemd" || e.ident == "systemd-coredump" ? service_event(e) : "";
                 !what.empty()) {
        evidence.events.push_back({e.time, node.name, e.unit, what, e.message});
      } else if (became_leader(e.message)) {
        evidence.events.push_back({e.time, node.name, e.unit, "became leader", e.message});
      }
    }
  }
  std::stable_sort(evidence.faults.begin(), evidence.faults.end(),
                   [](const FaultSpan& a, const FaultSpan& b) { return a.start < b.start; });
}

std::vector<ClientOperation> read_history(const std::filesystem::path& file, int& skipped)
{
  std::vector<ClientOperation> history;
  skipped = 0;
  std::ifstream in(file);
  for (std::string line; std::getline(in, line);) {
    json j = json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("start") || !j["start"].is_number()) {
      skipped += !line.empty();
      continue;
    }
    ClientOperation op;
    op.process = j.value("process", "client");
    op.op = j.value("op", "?");
    op.start = j["start"].get<double>();
    op.end = j.contains("end") && j["end"].is_number() ? j["end"].get<double>() : op.start;
    op.result = j.value("result", "unknown");
    op.line = line;
    history.push_back(std::move(op));
  }
  return history;
}

std::string evidence_summary(const Evidence& ev)
{
  std::ostringstream s;
  s << (ev.test.empty() ? std::string("collected by hand") : "test: " + ev.test) << "\n";
  if (!ev.result.empty()) {
    s << "result: " << ev.result << "\n";
  }
  s << "window: " << iso_time(ev.since) << " .. " << iso_time(ev.until) << " ("
    << std::lround(ev.until - ev.since) << " s)\n";
  if (!ev.test.empty()) {
    s << "\nwhat the test said last:\n";
    for (const auto& line : failure_lines(ev.test_output)) {
      s << "  " << line << "\n";
    }
  }
  s << "\nfaults in the window (faults.jsonl):" << (ev.faults.empty() ? " none\n" : "\n");
  for (const auto& f : ev.faults) {
    s << "  " << f.node << "  " << f.kind << " " << f.id << "  " << clock_time(f.start) << " .. "
      << (f.healed ? clock_time(*f.healed) : std::string("still on")) << "  " << f.detail << "\n";
  }
  s << "\nservices that started, stopped or crashed:" << (ev.events.empty() ? " none\n" : "\n");
  for (const auto& e : ev.events) {
    s << "  " << clock_time(e.time) << "  " << e.node << "  " << e.unit << " " << e.what << "\n";
  }
  if (!ev.runs.empty()) {
    s << "\nruns of cluster-deploy in the window (runs.jsonl):\n";
    for (const auto& r : ev.runs) {
      s << "  " << r.command << " " << r.run << "  " << clock_time(r.start) << " .. " << clock_time(r.end)
        << "  exit " << r.exit << "\n";
    }
  }
  s << "\nnodes (nodes/<node>/journal.txt):\n";
  for (const auto& n : ev.nodes) {
    s << "  " << n.name << "  ";
    if (!n.failure.empty()) {
      s << "not collected: " << n.failure << "\n";
      continue;
    }
    s << n.journal.size() << " journal lines" << (n.journal_truncated ? " (cut at the byte cap)" : "")
      << ", release " << n.current << "\n";
  }
  if (!ev.left_out.empty()) {
    s << "  left out (a sample of a large cluster):";
    for (const auto& name : ev.left_out) {
      s << " " << name;
    }
    s << "\n";
  }
  s << "\nlook first at timeline.html (a row per node: faults, service events, the client's operations)\n";
  return s.str();
}

namespace {

/// runs/<run>.jsonl for each run of the window that left steps (a run id is letters and digits).
bool write_run_steps(const Evidence& ev, const std::filesystem::path& dir)
{
  bool ok = true;
  for (std::size_t i = 0; i < ev.runs.size() && i < ev.run_steps.size(); ++i) {
    const std::string& id = ev.runs[i].run;
    bool plain = !id.empty() && std::all_of(id.begin(), id.end(), [](unsigned char c) { return std::isalnum(c); });
    if (!plain || ev.run_steps[i].empty()) {
      continue;
    }
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    ok = !ec && write_file(dir / (id + ".jsonl"), ev.run_steps[i]) && ok;
  }
  return ok;
}

} // namespace

Result<std::vector<std::filesystem::path>> write_evidence(const Evidence& ev, const std::filesystem::path& dir)
{
  namespace fs = std::filesystem;
  mode_t old_mask = ::umask(077); // journals may hold what a service logged: this user's alone
  std::error_code ec;
  fs::create_directories(dir / "nodes", ec);
  if (ec) {
    ::umask(old_mask);
    return Failure{"cannot create " + dir.string() + ": " + ec.message()};
  }
  std::vector<fs::path> files = {dir / "summary.txt", dir / "faults.jsonl"};
  bool ok = write_file(dir / "summary.txt", evidence_summary(ev));
  std::string faults, runs, history;
  for (const auto& f : ev.faults) {
    faults += fault_json(f) + "\n";
  }
  for (const auto& r : ev.runs) {
    runs += r.line + "\n";
  }
  for (const auto& op : ev.history) {
    history += op.line + "\n";
  }
  ok = write_file(dir / "faults.jsonl", faults) && ok;
  ok = write_file(dir / "runs.jsonl", runs) && ok;
  ok = write_run_steps(ev, dir / "runs") && ok;
  if (!ev.history.empty()) {
    ok = write_file(dir / "history.jsonl", history) && ok;
  }
  if (!ev.test.empty()) {
    ok = write_file(dir / "test-output.txt", ev.test_output) && ok;
    files.push_back(dir / "test-output.txt");
  }
  for (const auto& n : ev.nodes) {
    fs::path nd = dir / "nodes" / n.name;
    fs::create_directories(nd, ec);
    std::string journal = n.journal_error + journal_text(n.journal) +
                          (n.journal_truncated ? "(cut here: the journal of the window is larger than the cap)\n" : "");
    ok = write_file(nd / "journal.txt", n.failure.empty() ? journal : "not collected: " + n.failure + "\n") && ok;
    ok = write_file(nd / "status.txt", n.status) && write_file(nd / "current", n.current + "\n") &&
         write_file(nd / "kernel.txt", n.kernel) && write_file(nd / "cores.txt", n.cores) && ok;
    files.push_back(nd / "journal.txt");
  }
  ::umask(old_mask);
  if (!ok) {
    return Failure{"could not write every file of " + dir.string()};
  }
  return files;
}

} // namespace deploy
