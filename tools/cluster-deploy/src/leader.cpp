#include "leader.hpp"

#include "interrupt.hpp"
#include "render.hpp"

#include <chrono>
#include <functional>
#include <thread>

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

namespace {

/// Runs one of the group's queries (`hook`: LEADER, MEMBERS) as the service user on the
/// group's reachable nodes in turn, until one exits 0 with an answer `accept` takes (an
/// error says why not); returns that node's name and output.
Result<std::pair<std::string, std::string>> ask_group(
    Cluster& cluster, const Service& service, const std::string& hook, const std::string& what,
    const std::function<Result<void>(const std::string&)>& accept)
{
  std::string last = "no node of group " + service.group + " is reachable";
  for (auto& slot : cluster.slots()) {
    if (slot.node->group != service.group || !slot.alive()) {
      continue;
    }
    CD_TRY(command, expand_command(hook, cluster.plan(), *slot.node, service, "service " + service.name + " " + what));
    auto answered = slot.ops->answer_read_ahead(what + " " + service.name); // asked with the lock
    auto result = answered && answered->succeeded() ? Result<ExecResult>(*answered)
                                                    : slot.ops->run_as_service_user(*command, Seconds{15});
    auto taken = !result               ? Result<void>(fail(result.error()))
                 : !result->succeeded() ? Result<void>(fail(what + " query exited " + std::to_string(result->exit_status)))
                                        : accept(result->out);
    if (taken) {
      return std::pair{slot.node->name, result->out};
    }
    last = slot.node->name + ": " + taken.error();
  }
  return fail(last);
}

} // namespace

Result<const Node*> query_leader(Cluster& cluster, const Service& service)
{
  if (service.leader.empty()) {
    return fail("service " + service.name + " has no LEADER query (cluster_deploy_service(" + service.name +
                " ... LEADER exec <command>))");
  }
  auto answer = ask_group(cluster, service, service.leader, "LEADER", [&](const std::string& out) -> Result<void> {
    CD_TRY_VOID(leader_from_answer(cluster.plan(), service, out));
    return {};
  });
  if (!answer) {
    return fail("no leader of " + service.name + ": " + answer.error());
  }
  return leader_from_answer(cluster.plan(), service, answer->second);
}

Result<std::string> query_leader_name(Cluster& cluster, const Service& service)
{
  if (service.leader.empty()) {
    return fail("service " + service.name + " has no LEADER query");
  }
  CD_TRY(answer, ask_group(cluster, service, service.leader, "LEADER", [&](const std::string& out) -> Result<void> {
    return trimmed_first_line(out).empty() ? Result<void>(fail("the LEADER query printed nothing")) : Result<void>{};
  }));
  return trimmed_first_line(answer->second);
}

Result<void> check_quorum(Cluster& cluster, const Service& service, Seconds wait)
{
  if (service.quorum.empty()) {
    return {};
  }
  auto deadline = std::chrono::steady_clock::now() + wait;
  std::string last = "no healthy node of group " + service.group + " to ask";
  while (true) {
    for (auto& slot : cluster.slots()) {
      if (slot.node->group != service.group || !slot.alive()) {
        continue;
      }
      CD_TRY(command, expand_command(service.quorum, cluster.plan(), *slot.node, service,
                                     "service " + service.name + " QUORUM"));
      auto result = slot.ops->run_as_service_user(*command, Seconds{30});
      if (result && result->succeeded()) {
        return {};
      }
      auto why = result ? result->err.substr(0, result->err.find('\n')) : result.error();
      last = slot.node->name + ": QUORUM check exited " + (result ? std::to_string(result->exit_status) : "-") +
             (why.empty() ? "" : ": " + why);
      break; // the first reachable node answers for the group
    }
    if (std::chrono::steady_clock::now() >= deadline || interrupted()) {
      return fail(wait.count() == 0 ? last : last + " (waited " + std::to_string(wait.count()) + "s)");
    }
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
}

std::string members_ask(const std::string& service)
{
  return "MEMBERS " + service; // what ask_group names its answer: "<query> <service>"
}

std::map<std::string, std::string> members_asks(const Plan& plan, const Node& node)
{
  std::map<std::string, std::string> asks;
  for (const auto& service : plan.services) {
    auto group = plan.inventory.group(service.group);
    if (service.members.empty() || group.empty() || group.front() != &node) {
      continue;
    }
    if (auto command = expand_command(service.members, plan, node, service, "service " + service.name + " MEMBERS")) {
      asks[members_ask(service.name)] = *command;
    } // else ask_members says why, later
  }
  return asks;
}

std::optional<std::pair<std::string, std::vector<Member>>> ask_members(Cluster& cluster, const Service& service,
                                                                       std::string* why)
{
  auto answer = ask_group(cluster, service, service.members, "MEMBERS", [](const std::string& out) -> Result<void> {
    CD_TRY(members, parse_members(out));
    return members->empty() ? Result<void>(fail("MEMBERS printed no member")) : Result<void>{};
  });
  if (!answer) {
    *why = answer.error();
    return std::nullopt;
  }
  return std::pair{answer->first, *parse_members(answer->second)};
}

} // namespace deploy
