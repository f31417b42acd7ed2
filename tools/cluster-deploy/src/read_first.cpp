#include "read_first.hpp"

#include "changes.hpp"
#include "console.hpp"
#include "leader.hpp"
#include "membership.hpp"
#include "node_ops.hpp"

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace deploy {
namespace {

std::filesystem::path deployed_file(const Plan& plan)
{
  return plan.output_dir / "deployed.txt";
}

/// deployed.txt: "<node> <release id>" lines.
std::map<std::string, std::string> read_deployed(const Plan& plan)
{
  std::map<std::string, std::string> deployed;
  std::ifstream in(deployed_file(plan));
  std::string node, id;
  while (in >> node >> id) {
    deployed[node] = id;
  }
  return deployed;
}

/// The node as read ahead would be left as it is by the deploy of `release`.
bool node_unchanged(NodeOps& ops, const NodeRelease& release)
{
  const NodeReading* reading = ops.reading_ahead();
  if (!reading || !reading->deployed.lock_run.empty() || !ops.asks_passed()) {
    return false;
  }
  if (release.files.empty()) { // no service of the plan runs here: nothing to retire either
    return reading->deployed.current_id.empty() && reading->deployed.units.empty();
  }
  ChangeSet changes = compute_changes(release, reading->deployed);
  if (!changes.nothing_to_do() || !changes.restart.empty()) {
    return false;
  }
  return std::all_of(release.service_digests.begin(), release.service_digests.end(), [&](const auto& service) {
    auto unit = reading->units.find(service.first);
    return unit != reading->units.end() && unit->second.running();
  });
}

/// No member of `service`'s group joins or leaves, and each node of it has its member
/// record (a deploy writes a missing one, and renders that node again).
bool members_unchanged(Cluster& cluster, const Service& service)
{
  auto group = cluster.plan().inventory.group(service.group);
  if (std::any_of(group.begin(), group.end(), [&](const Node* node) { return !cluster.find(node->name); })) {
    return true; // the deploy leaves the members of a group it does not hold as they are
  }
  for (const Node* node : group) {
    if (!read_member_record(cluster.plan(), service, *node)) {
      return false;
    }
  }
  for (auto& slot : cluster.slots()) {
    const ExecResult* answer = slot.ops ? slot.ops->answer_ahead(members_ask(service.name)) : nullptr;
    if (!answer) {
      continue;
    }
    auto members = parse_members(answer->out);
    if (!answer->succeeded() || !members || members->empty()) {
      return false;
    }
    auto changes = member_changes(cluster.plan(), service, *members, "");
    return changes && changes->joins.empty() && changes->leaves.empty();
  }
  return false; // not asked ahead
}

/// Writes deployed.txt whole (a temporary file renamed over it).
void write_deployed(const Plan& plan, const std::map<std::string, std::string>& deployed)
{
  std::ostringstream text;
  for (const auto& [node, id] : deployed) {
    text << node << ' ' << id << '\n';
  }
  auto path = deployed_file(plan);
  auto temporary = path;
  temporary += ".tmp";
  std::error_code ec;
  {
    std::ofstream out(temporary, std::ios::trunc);
    out << text.str();
    if (!out.flush()) {
      ec = std::make_error_code(std::errc::io_error);
    }
  }
  if (!ec) {
    std::filesystem::rename(temporary, path, ec);
  }
  if (ec) {
    print_note("warning: cannot write " + path.string() + " (" + ec.message() +
               "): the next deploy takes the lock before it reads");
  }
}

} // namespace

std::set<std::string> noted_nodes(const Plan& plan)
{
  std::set<std::string> nodes;
  for (const auto& [node, id] : read_deployed(plan)) {
    nodes.insert(node);
  }
  return nodes;
}

void record_deployed(const Plan& plan, const std::map<std::string, std::string>& releases)
{
  auto deployed = read_deployed(plan);
  for (const auto& [node, id] : releases) {
    deployed[node] = id;
  }
  write_deployed(plan, deployed);
}

void forget_deployed(Cluster& cluster)
{
  auto deployed = read_deployed(cluster.plan());
  bool forgot = false;
  for (const auto& slot : cluster.slots()) {
    forgot = deployed.erase(slot.node->name) != 0 || forgot;
  }
  if (forgot) {
    write_deployed(cluster.plan(), deployed);
  }
}

bool deployed_before(const Plan& plan, const std::map<std::string, NodeRelease>& releases)
{
  auto deployed = read_deployed(plan);
  return !releases.empty() && std::all_of(releases.begin(), releases.end(), [&](const auto& release) {
    auto it = deployed.find(release.first);
    return it != deployed.end() && it->second == release.second.id;
  });
}

bool unchanged_without_lock(Cluster& cluster, const std::vector<const Service*>& services,
                            const std::map<std::string, NodeRelease>& releases)
{
  auto& slots = cluster.slots();
  if (!deployed_before(cluster.plan(), releases) ||
      !std::all_of(slots.begin(), slots.end(), [](const NodeSlot& slot) { return slot.alive(); })) {
    return false;
  }
  std::atomic<bool> unchanged = true;
  cluster.for_each_alive([&](NodeSlot& slot) {
    auto release = releases.find(slot.node->name);
    if (release == releases.end() || !slot.ops->read_ahead() || !node_unchanged(*slot.ops, release->second)) {
      unchanged = false;
    }
  });
  if (!unchanged || !std::all_of(services.begin(), services.end(), [&](const Service* service) {
        return service->members.empty() || members_unchanged(cluster, *service);
      })) {
    return false;
  }
  for (auto& slot : slots) {
    slot.ops->forbid_changes();
  }
  return true;
}

} // namespace deploy
