#include "leader.hpp"

#include "render.hpp"

namespace deploy {
namespace {

std::string trimmed_first_line(std::string_view text)
{
  auto end = text.find('\n');
  std::string line(text.substr(0, end));
  auto first = line.find_first_not_of(" \t\r");
  auto last = line.find_last_not_of(" \t\r");
  return first == std::string::npos ? "" : line.substr(first, last - first + 1);
}

} // namespace

Result<const Node*> leader_from_answer(const Plan& plan, const Service& service, std::string_view answer)
{
  std::string name = trimmed_first_line(answer);
  if (name.empty()) {
    return fail("the LEADER query of " + service.name + " printed nothing");
  }
  for (const Node* node : plan.inventory.group(service.group)) {
    if (node->name == name || node->address == name) {
      return node;
    }
  }
  return fail("the LEADER query of " + service.name + " printed '" + name + "', which is no node of group " +
              service.group);
}

Result<const Node*> query_leader(Cluster& cluster, const Service& service)
{
  if (service.leader.empty()) {
    return fail("service " + service.name + " has no LEADER query (cluster_deploy_service(" + service.name +
                " ... LEADER exec <command>))");
  }
  std::string last = "no node of group " + service.group + " is reachable";
  for (auto& slot : cluster.slots()) {
    if (slot.node->group != service.group || !slot.alive()) {
      continue;
    }
    CD_TRY(command,
           expand_command(service.leader, cluster.plan(), *slot.node, service, "service " + service.name + " LEADER"));
    auto result = slot.ops->run_as_service_user(*command, Seconds{15});
    if (!result) {
      last = result.error();
      continue;
    }
    if (!result->succeeded()) {
      last = slot.node->name + ": LEADER query exited " + std::to_string(result->exit_status);
      continue;
    }
    auto leader = leader_from_answer(cluster.plan(), service, result->out);
    if (leader) {
      return leader;
    }
    last = slot.node->name + ": " + leader.error();
  }
  return fail("no leader of " + service.name + ": " + last);
}

Result<std::string> query_leader_name(Cluster& cluster, const Service& service)
{
  std::string last = "no node of group " + service.group + " answered";
  for (auto& slot : cluster.slots()) {
    if (slot.node->group != service.group || !slot.alive() || service.leader.empty()) {
      continue;
    }
    CD_TRY(command,
           expand_command(service.leader, cluster.plan(), *slot.node, service, "service " + service.name + " LEADER"));
    auto result = slot.ops->run_as_service_user(*command, Seconds{15});
    if (result && result->succeeded() && !trimmed_first_line(result->out).empty()) {
      return trimmed_first_line(result->out);
    }
    last = slot.node->name + ": " + (result ? "LEADER query exited " + std::to_string(result->exit_status) : result.error());
  }
  return fail(last);
}

std::optional<std::pair<std::string, std::vector<Member>>> ask_members(Cluster& cluster, const Service& service,
                                                                       std::string* why)
{
  *why = "no node of group " + service.group + " is reachable";
  for (auto& slot : cluster.slots()) {
    if (slot.node->group != service.group || !slot.alive()) {
      continue;
    }
    auto command = expand_command(service.members, cluster.plan(), *slot.node, service,
                                  "service " + service.name + " MEMBERS");
    if (!command) {
      *why = command.error();
      return std::nullopt;
    }
    auto result = slot.ops->run_as_service_user(*command, Seconds{15});
    if (!result || !result->succeeded()) {
      *why = slot.node->name + ": " +
             (result ? "MEMBERS exited " + std::to_string(result->exit_status) : result.error());
      continue;
    }
    auto members = parse_members(result->out);
    if (!members) {
      *why = slot.node->name + ": " + members.error();
      continue;
    }
    if (!members->empty()) {
      return std::pair{slot.node->name, *members};
    }
    *why = slot.node->name + ": MEMBERS printed no member";
  }
  return std::nullopt;
}

} // namespace deploy
