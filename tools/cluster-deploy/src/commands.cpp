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

/// Reads the state of `services` (those of the node's group) on one node.
NodeStatus node_status(NodeSlot& slot, const std::vector<const Service*>& services)
{
  NodeStatus status;
  status.name = slot.node->name;
  status.address = slot.node->address;
  status.group = slot.node->group;
  if (auto current = slot.ops->current_release()) {
    status.release = *current;
  }
  if (auto drift = slot.ops->drift()) {
    status.drift = *drift;
  }
  if (auto faults = slot.ops->active_faults()) {
    status.faults.emplace();
    for (const auto& fault : *faults) {
      status.faults->push_back(FaultStatus{fault.id, fault.kind, fault.seconds_left, fault.units});
    }
  }
  for (const Service* service : services) {
    if (service->group != slot.node->group) {
      continue;
    }
    ServiceStatus row;
    row.name = service->name;
    if (auto state = slot.ops->unit_state(service->name, true)) {
      row.loaded = state->loaded;
      row.active = state->active;
      row.sub = state->sub;
      row.result = state->result;
      row.running = state->running();
      row.pid = state->main_pid;
      row.uptime_seconds = state->uptime_seconds;
      row.restarts = state->restarts;
      row.failures = state->failures;
    } else {
      row.error = state.error();
    }
    status.services.push_back(std::move(row));
  }
  return status;
}

/// The active faults that touch `unit` on a node ("partition(41s)", ...): partitions touch
/// every unit; "?" when they could not be read.
std::string faults_text(const std::optional<std::vector<FaultStatus>>& faults, const std::string& unit)
{
  if (!faults) {
    return "?";
  }
  std::string text;
  for (const auto& fault : *faults) {
    if (fault.kind == "partition" || std::find(fault.units.begin(), fault.units.end(), unit) != fault.units.end()) {
      text += (text.empty() ? "" : ",") + fault.kind + "(" + std::to_string(fault.seconds_left) + "s)";
    }
  }
  return text.empty() ? "-" : text;
}

/// "-", or "3 (oom-kill)": failures since the deploy and the last one's result.
std::string failures_text(const std::vector<std::string>& failures)
{
  return failures.empty() ? "-" : std::to_string(failures.size()) + " (" + failures.back() + ")";
}

bool all_running(const std::vector<NodeStatus>& nodes)
{
  return std::all_of(nodes.begin(), nodes.end(), [](const NodeStatus& node) {
    return node.reachable && std::all_of(node.services.begin(), node.services.end(),
                                         [](const ServiceStatus& service) { return service.running; });
  });
}

std::string status_table(const std::string& cluster, const std::vector<NodeStatus>& nodes)
{
  std::vector<std::vector<std::string>> rows;
  for (const auto& node : nodes) {
    if (!node.reachable) {
      rows.push_back({node.name, "-", "unreachable", "-", "-", "-", "-", "-", "-", "-"});
      continue;
    }
    std::string release = !node.release ? "?" : node.release->empty() ? "-" : *node.release;
    std::string drift = !node.drift           ? "?"
                        : node.drift->empty() ? "none"
                                              : std::to_string(node.drift->size()) + " files";
    for (const auto& service : node.services) {
      std::string state = !service.error.empty() ? "error: " + service.error
                          : !service.loaded      ? "not deployed"
                                                 : service.active + " (" + service.sub + ")";
      if (service.error.empty() && !service.result.empty() && service.result != "success") {
        state += ", result " + service.result;
      }
      rows.push_back({node.name, service.name, state, service.pid ? std::to_string(service.pid) : "-",
                      uptime_text(service.uptime_seconds),
                      service.error.empty() ? std::to_string(service.restarts) : "-",
                      failures_text(service.failures), release, drift,
                      faults_text(node.faults, NodeLayout{cluster}.unit_name(service.name))});
    }
  }
  std::sort(rows.begin(), rows.end());
  rows.insert(rows.begin(),
              {"NODE", "SERVICE", "STATE", "PID", "UPTIME", "RESTARTS", "FAILURES", "RELEASE", "DRIFT", "FAULTS"});
  std::string text = format_table(rows);
  for (const auto& node : nodes) {
    for (const auto& file : node.drift.value_or(std::vector<std::string>{})) {
      text += "drift: " + node.name + ": " + file + " differs from what was deployed\n";
    }
  }
  return text;
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

std::vector<NodeStatus> collect_status(Cluster& cluster, const std::vector<const Service*>& services)
{
  std::vector<NodeStatus> nodes;
  std::mutex mutex;
  cluster.for_each_alive([&](NodeSlot& slot) {
    auto status = node_status(slot, services);
    std::lock_guard lock(mutex);
    nodes.push_back(std::move(status));
  });
  for (auto& slot : cluster.slots()) {
    if (!slot.alive()) {
      NodeStatus status;
      status.name = slot.node->name;
      status.address = slot.node->address;
      status.group = slot.node->group;
      status.reachable = false;
      status.error = slot.failure;
      nodes.push_back(std::move(status));
    }
  }
  std::sort(nodes.begin(), nodes.end(), [](const NodeStatus& a, const NodeStatus& b) { return a.name < b.name; });
  return nodes;
}

bool run_status(Cluster& cluster, const std::vector<const Service*>& services)
{
  auto nodes = collect_status(cluster, services);
  bool ok = all_running(nodes);
  std::string text =
      cluster.output().format() == Format::json ? status_json(cluster.plan().cluster, ok, nodes) : status_table(cluster.plan().cluster, nodes);
  std::printf("%s", text.c_str());
  std::fflush(stdout);
  return ok;
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
