#include "commands.hpp"

#include <algorithm>
#include <cstdio>
#include <mutex>
#include <sstream>

namespace deploy {
namespace {

std::string uptime_text(long seconds)
{
  if (seconds < 0) {
    return "-";
  }
  if (seconds < 120) {
    return std::to_string(seconds) + "s";
  }
  if (seconds < 7200) {
    return std::to_string(seconds / 60) + "m";
  }
  return std::to_string(seconds / 3600) + "h";
}

/// The active faults that touch `unit` on a node: partitions touch every unit.
std::string faults_text(const Result<std::vector<ActiveFault>>& faults, const std::string& unit)
{
  if (!faults) {
    return "?";
  }
  std::string text;
  for (const auto& fault : *faults) {
    bool touches = fault.kind == "partition" || std::find(fault.units.begin(), fault.units.end(), unit) != fault.units.end();
    if (touches) {
      text += (text.empty() ? "" : ",") + fault.kind + "(" + std::to_string(fault.seconds_left) + "s)";
    }
  }
  return text.empty() ? "-" : text;
}

std::vector<std::string> status_rows_for(const Plan& plan, NodeSlot& slot, const std::vector<const Service*>& services,
                                         bool& all_running,
                                         std::vector<std::vector<std::string>>& rows)
{
  auto current = slot.ops->current_release();
  std::string release = !current ? "?" : current->empty() ? "-" : *current;
  auto drift = slot.ops->drift();
  std::string drift_text = !drift ? "?" : drift->empty() ? "none" : std::to_string(drift->size()) + " files";
  auto faults = slot.ops->active_faults();
  for (const Service* service : services) {
    if (service->group != slot.node->group) {
      continue;
    }
    auto state = slot.ops->unit_state(service->name);
    if (!state) {
      rows.push_back({slot.node->name, service->name, "error: " + state.error(), "-", "-", "-", release, drift_text,
                      "?"});
      all_running = false;
      continue;
    }
    std::string shown = !state->loaded ? "not deployed" : state->active + " (" + state->sub + ")";
    all_running = all_running && state->running();
    rows.push_back({slot.node->name, service->name, shown, state->main_pid ? std::to_string(state->main_pid) : "-",
                    uptime_text(state->uptime_seconds), std::to_string(state->restarts), release, drift_text,
                    faults_text(faults, NodeLayout{plan.cluster}.unit_name(service->name))});
  }
  return drift ? *drift : std::vector<std::string>{};
}

std::string journal_command(const Plan& plan, const std::vector<const Service*>& services, const Node& node,
                            const LogOptions& options)
{
  // UTC on every node, so lines from nodes in other time zones merge in order.
  std::vector<std::string> words = {"env", "TZ=UTC", "journalctl", "--no-pager", "-o", "short-iso-precise"};
  for (const Service* service : services) {
    if (service->group == node.group) {
      words.push_back("-u");
      words.push_back(NodeLayout{plan.cluster}.unit_name(service->name));
    }
  }
  words.push_back("-n");
  words.push_back(std::to_string(options.lines));
  if (!options.since.empty()) {
    words.push_back("--since");
    words.push_back(options.since);
  }
  if (options.follow) {
    words.push_back("-f");
  }
  return root_command("exec \"$@\"", words);
}

} // namespace

bool run_status(Cluster& cluster, const std::vector<const Service*>& services)
{
  std::vector<std::vector<std::string>> rows;
  std::map<std::string, std::vector<std::string>> drifted;
  std::mutex mutex;
  bool all_running = true;
  cluster.for_each_alive([&](NodeSlot& slot) {
    std::vector<std::vector<std::string>> mine;
    bool mine_running = true;
    auto drift = status_rows_for(cluster.plan(), slot, services, mine_running, mine);
    std::lock_guard lock(mutex);
    rows.insert(rows.end(), mine.begin(), mine.end());
    all_running = all_running && mine_running;
    if (!drift.empty()) {
      drifted[slot.node->name] = drift;
    }
  });
  for (auto& slot : cluster.slots()) {
    if (!slot.alive()) {
      rows.push_back({slot.node->name, "-", "unreachable", "-", "-", "-", "-", "-", "-"});
      all_running = false;
    }
  }
  std::sort(rows.begin(), rows.end());
  rows.insert(rows.begin(), {"NODE", "SERVICE", "STATE", "PID", "UPTIME", "RESTARTS", "RELEASE", "DRIFT", "FAULTS"});
  std::printf("%s", format_table(rows).c_str());
  for (const auto& [node, files] : drifted) {
    for (const auto& file : files) {
      std::printf("drift: %s: %s differs from what was deployed\n", node.c_str(), file.c_str());
    }
  }
  return all_running;
}

std::vector<std::string> merge_by_time(std::vector<std::pair<std::string, std::string>> node_lines)
{
  std::stable_sort(node_lines.begin(), node_lines.end(),
                   [](const auto& a, const auto& b) { return a.second.substr(0, 31) < b.second.substr(0, 31); });
  std::vector<std::string> merged;
  for (const auto& [node, line] : node_lines) {
    merged.push_back(node + " | " + line);
  }
  return merged;
}

bool run_logs(Cluster& cluster, const std::vector<const Service*>& services, const LogOptions& options)
{
  std::vector<std::pair<std::string, std::string>> lines;
  std::mutex mutex;
  bool ok = true;
  cluster.for_each_alive(
      [&](NodeSlot& slot) {
        std::string command = journal_command(cluster.plan(), services, *slot.node, options);
        std::string pending;
        auto sink = [&](std::string_view chunk) {
          pending += chunk;
          for (auto nl = pending.find('\n'); nl != std::string::npos; nl = pending.find('\n')) {
            std::string line = pending.substr(0, nl);
            pending.erase(0, nl + 1);
            std::lock_guard lock(mutex);
            if (options.follow) {
              std::printf("%s | %s\n", slot.node->name.c_str(), line.c_str());
              std::fflush(stdout);
            } else if (!line.starts_with("-- ")) {
              lines.emplace_back(slot.node->name, line);
            }
          }
          return true;
        };
        auto done = slot.transport->exec_streaming(command, sink, options.follow ? Seconds{0} : Seconds{60});
        std::string error = !done       ? done.error()
                            : *done > 0 ? "journalctl exited " + std::to_string(*done) + " (check --since)"
                                        : "";
        if (!error.empty()) {
          std::lock_guard lock(mutex);
          ok = false;
          cluster.output().progress(slot.node->name, "error: " + error);
        }
      },
      options.follow ? static_cast<int>(cluster.slots().size()) : 0); // follow: every node at once
  for (const auto& line : merge_by_time(std::move(lines))) {
    std::printf("%s\n", line.c_str());
  }
  return ok && std::all_of(cluster.slots().begin(), cluster.slots().end(), [](const NodeSlot& s) { return s.alive(); });
}

} // namespace deploy
