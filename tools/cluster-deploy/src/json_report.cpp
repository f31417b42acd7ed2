#include "json_report.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>

namespace deploy {
namespace {

using json = nlohmann::ordered_json;

std::string text(const json& document)
{
  json versioned = {{"version", CLUSTER_DEPLOY_VERSION}}; // which helper wrote it, first
  versioned.update(document);
  // Remote output may hold invalid UTF-8: replaced, never an exception.
  return versioned.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

json string_or_null(const std::string& value, const std::string& none = "")
{
  return value.empty() || value == none ? json(nullptr) : json(value);
}

json service_json(const ServiceStatus& service)
{
  return {{"name", service.name},
          {"error", string_or_null(service.error)},
          {"loaded", service.loaded},
          {"active", string_or_null(service.active)},
          {"sub", string_or_null(service.sub)},
          {"result", string_or_null(service.result)},
          {"running", service.running},
          {"pid", service.pid > 0 ? json(service.pid) : json(nullptr)},
          {"uptime_seconds", service.uptime_seconds >= 0 ? json(service.uptime_seconds) : json(nullptr)},
          {"restarts", service.restarts},
          {"failures", service.failures},
          {"membership", string_or_null(service.membership)}};
}

json faults_json(const std::vector<FaultStatus>& faults)
{
  json list = json::array();
  for (const auto& fault : faults) {
    list.push_back(
        {{"id", fault.id}, {"kind", fault.kind}, {"seconds_left", fault.seconds_left}, {"units", fault.units}});
  }
  return list;
}

json node_json(const NodeStatus& node)
{
  json services = json::array();
  for (const auto& service : node.services) {
    services.push_back(service_json(service));
  }
  return {{"name", node.name},
          {"address", node.address},
          {"group", node.group},
          {"reachable", node.reachable},
          {"error", string_or_null(node.error)},
          {"release", node.release ? string_or_null(*node.release) : json(nullptr)},
          {"drift", node.drift ? json(*node.drift) : json(nullptr)},
          {"faults", node.faults ? faults_json(*node.faults) : json(nullptr)},
          {"services", services}};
}

json changes_json(const NodeChanges& node)
{
  json send = json::array();
  for (const auto& file : node.send) {
    send.push_back({{"path", file.path}, {"bytes", file.bytes}});
  }
  return {{"name", node.name},
          {"address", node.address},
          {"group", node.group},
          {"reachable", node.reachable},
          {"error", string_or_null(node.error)},
          {"release", string_or_null(node.release)},
          {"changed", node.changed},
          {"send", send},
          {"bytes_to_send", node.bytes_to_send},
          {"reuse", node.reuse},
          {"units_to_install", node.units_to_install},
          {"units_to_remove", node.units_to_remove},
          {"restart", node.restart}};
}

} // namespace

std::string status_json(const std::string& cluster, bool ok, const std::vector<NodeStatus>& nodes,
                        const std::vector<OutsideMember>& outside)
{
  json list = json::array();
  for (const auto& node : nodes) {
    list.push_back(node_json(node));
  }
  json members = json::array();
  for (const auto& member : outside) {
    members.push_back({{"service", member.service},
                       {"name", member.name},
                       {"address", string_or_null(member.address)},
                       {"state", member.state}});
  }
  return text(
      {{"command", "status"}, {"cluster", cluster}, {"ok", ok}, {"nodes", list}, {"members_outside", members}});
}

std::string dry_run_json(const std::string& cluster, bool ok, const std::vector<NodeChanges>& nodes)
{
  json list = json::array();
  for (const auto& node : nodes) {
    list.push_back(changes_json(node));
  }
  return text({{"command", "deploy"}, {"dry_run", true}, {"cluster", cluster}, {"ok", ok}, {"nodes", list}});
}

std::string summary_json(const std::string& command, const std::string& cluster, const std::vector<SummaryRow>& rows,
                         std::optional<bool> changed)
{
  json results = json::array();
  bool ok = true;
  for (const auto& row : rows) {
    ok = ok && row.ok;
    results.push_back({{"node", row.node},
                       {"service", string_or_null(row.service, "-")},
                       {"action", row.action},
                       {"ok", row.ok},
                       {"detail", string_or_null(row.detail)},
                       {"seconds", row.seconds}});
  }
  json document = {{"command", command}, {"cluster", cluster}, {"ok", ok}};
  if (changed) {
    document["changed"] = *changed;
  }
  document["results"] = results;
  return text(document);
}

} // namespace deploy
