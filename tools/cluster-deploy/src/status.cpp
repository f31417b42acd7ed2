#include "status.hpp"

#include "console.hpp"
#include "layout.hpp"
#include "leader.hpp"

#include <algorithm>
#include <cstdio>
#include <mutex>

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
NodeStatus node_status(NodeSlot& slot, const Plan& plan, const std::vector<const Service*>& services)
{
  NodeStatus status;
  status.name = slot.node->name;
  status.address = slot.node->address;
  status.group = slot.node->group;
  std::vector<std::string> names;
  for (const Service* service : services) {
    if (service->group == slot.node->group) {
      names.push_back(service->name);
    }
  }
  // One round trip per node; a group's MEMBERS question rides its first node's (ask_members).
  auto snapshot = slot.ops->snapshot(names, members_asks(plan, *slot.node));
  if (!snapshot) {
    for (const auto& name : names) {
      ServiceStatus row;
      row.name = name;
      row.error = snapshot.error();
      status.services.push_back(std::move(row));
    }
    return status;
  }
  if (snapshot->release) {
    status.release = *snapshot->release;
  }
  if (snapshot->drift) {
    status.drift = *snapshot->drift;
  }
  if (snapshot->faults) {
    status.faults.emplace();
    for (const auto& fault : *snapshot->faults) {
      status.faults->push_back(FaultStatus{fault.id, fault.kind, fault.seconds_left, fault.units});
    }
  }
  for (const auto& [name, state] : snapshot->units) {
    ServiceStatus row;
    row.name = name;
    if (state) {
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

/// The active faults that touch `unit` on a node ("partition(41s)", ...): faults of the
/// node's links touch every unit; "?" when they could not be read.
std::string faults_text(const std::optional<std::vector<FaultStatus>>& faults, const std::string& unit)
{
  if (!faults) {
    return "?";
  }
  std::string text;
  for (const auto& fault : *faults) {
    if (is_link_fault(fault.kind) || std::find(fault.units.begin(), fault.units.end(), unit) != fault.units.end()) {
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
      rows.push_back({node.name, "-", "unreachable", "-", "-", "-", "-", "-", "-", "-", "-"});
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
                      service.error.empty() ? std::to_string(service.restarts) : "-", failures_text(service.failures),
                      release, drift, faults_text(node.faults, NodeLayout{cluster}.unit_name(service.name)),
                      service.membership.empty() ? "-" : service.membership});
    }
  }
  std::sort(rows.begin(), rows.end());
  rows.insert(rows.begin(),
              {"NODE", "SERVICE", "STATE", "PID", "UPTIME", "RESTARTS", "FAILURES", "RELEASE", "DRIFT", "FAULTS",
               "MEMBER"});
  std::string text = format_table(rows);
  for (const auto& node : nodes) {
    for (const auto& file : node.drift.value_or(std::vector<std::string>{})) {
      text += "drift: " + node.name + ": " + file + " differs from what was deployed\n";
    }
  }
  return text;
}

} // namespace

std::vector<NodeStatus> collect_status(Cluster& cluster, const std::vector<const Service*>& services)
{
  std::vector<NodeStatus> nodes;
  std::mutex mutex;
  cluster.for_each_alive([&](NodeSlot& slot) {
    auto status = node_status(slot, cluster.plan(), services);
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

/// For each service with MEMBERS: each node's membership, as its group answers; returns the
/// members no node of the inventory is: those the group still counts ("leaving": the next
/// deploy removes them) and those a deploy removed ("removed": their data is still there).
std::vector<OutsideMember> add_membership(Cluster& cluster, const std::vector<const Service*>& services,
                                          std::vector<NodeStatus>& nodes)
{
  std::vector<OutsideMember> outside;
  for (const Service* service : services) {
    if (service->members.empty()) {
      continue;
    }
    std::string why;
    auto answer = ask_members(cluster, *service, &why);
    auto members = answer ? answer->second : std::vector<Member>{};
    for (auto& node : nodes) {
      for (auto& status : node.services) {
        if (status.name != service->name) {
          continue;
        }
        bool in_group = std::any_of(members.begin(), members.end(), [&](const Member& m) {
          return node_of(cluster.plan(), *service, m) == cluster.plan().inventory.find(node.name);
        });
        status.membership = !answer ? "unknown" : in_group ? "member" : "joining";
      }
    }
    for (const auto& member : members) {
      if (!node_of(cluster.plan(), *service, member)) {
        outside.push_back({service->name, member.name, member.address, "leaving"});
      }
    }
    for (const auto& member : removed_members(cluster.plan(), *service)) {
      bool counted = std::find(members.begin(), members.end(), member) != members.end();
      if (!counted && !node_of(cluster.plan(), *service, member)) {
        outside.push_back({service->name, member.name, member.address, "removed"});
      }
    }
  }
  return outside;
}

/// The table's lines for the members no node of the inventory is.
std::string outside_lines(const Plan& plan, const std::vector<OutsideMember>& outside)
{
  std::string text;
  for (const auto& member : outside) {
    const Service& service = *plan.find_service(member.service);
    text += "members: " + member.name + (member.address.empty() ? "" : " (" + member.address + ")") +
            (member.state == "leaving"
                 ? " is a member of " + service.name + "'s group and no node of group " + service.group +
                       ": leaving (the next deploy removes it)\n"
                 : " left " + service.name + "'s group: removed (its data stays there, in " +
                       NodeLayout{plan.cluster}.data_dir(service.name) + ")\n");
  }
  return text;
}

bool run_status(Cluster& cluster, const std::vector<const Service*>& services)
{
  auto nodes = collect_status(cluster, services);
  auto outside = add_membership(cluster, services, nodes);
  bool ok = all_running(nodes);
  std::string text = cluster.output().format() == Format::json
                         ? status_json(cluster.plan().cluster, ok, nodes, outside)
                         : status_table(cluster.plan().cluster, nodes) + outside_lines(cluster.plan(), outside);
  print_out(text);
  std::fflush(stdout);
  return ok;
}

} // namespace deploy
