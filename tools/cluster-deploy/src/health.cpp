#include "health.hpp"

#include "output.hpp"
#include "render.hpp"

#include <thread>

namespace deploy {
namespace {

using Clock = std::chrono::steady_clock;

std::string status_line(std::string_view response)
{
  return std::string(response.substr(0, response.find_first_of("\r\n")));
}

Result<void> probe_http(NodeOps& ops, const Service& service)
{
  std::string request = "GET " + service.health.path + " HTTP/1.0\r\nHost: localhost\r\nConnection: close\r\n\r\n";
  StepLog step(ops.node(), "probe http " + std::to_string(service.health.port) + service.health.path);
  CD_TRY(response, ops.transport().tcp_request(service.health.port, request, Seconds{10}));
  if (!http_status_ok(*response)) {
    return fail("GET " + service.health.path + " on port " + std::to_string(service.health.port) + " answered '" +
                status_line(*response) + "'");
  }
  return {};
}

Result<void> probe_exec(NodeOps& ops, const Plan& plan, const Node& node, const Service& service)
{
  CD_TRY(command, expand_command(service.health.command, plan, node, service, "service " + service.name + " HEALTH"));
  CD_TRY(result, ops.run_as_service_user(*command, Seconds{30}));
  if (!result->succeeded()) {
    return fail("health command '" + *command + "' exited " + std::to_string(result->exit_status));
  }
  return {};
}

/// One check: running, no restart while we watch, probe passes.
Result<void> check_once(NodeOps& ops, const Plan& plan, const Node& node, const Service& service,
                        const HealthOptions& options)
{
  CD_TRY(before, ops.unit_state(service.name));
  if (!before->running()) {
    return fail("unit is " + before->active + " (" + before->sub + ")");
  }
  if (options.settle.count() == 0) {
    return probe_once(ops, plan, node, service);
  }
  std::this_thread::sleep_for(options.settle);
  CD_TRY(after, ops.unit_state(service.name));
  if (!after->running() || after->restarts != before->restarts || after->main_pid != before->main_pid) {
    return fail("unit restarted while settling (" + std::to_string(after->restarts) + " restarts)");
  }
  return probe_once(ops, plan, node, service);
}

} // namespace

bool http_status_ok(std::string_view response)
{
  if (!response.starts_with("HTTP/")) {
    return false;
  }
  auto space = response.find(' ');
  return space != std::string_view::npos && space + 1 < response.size() && response[space + 1] == '2';
}

Result<void> probe_once(NodeOps& ops, const Plan& plan, const Node& node, const Service& service)
{
  switch (service.health.kind) {
  case Health::Kind::none:
    return {};
  case Health::Kind::tcp: {
    auto connected = ops.transport().tcp_request(service.health.port, "", Seconds{10});
    return connected ? Result<void>{} : fail(connected.error());
  }
  case Health::Kind::http:
    return probe_http(ops, service);
  case Health::Kind::exec:
    return probe_exec(ops, plan, node, service);
  }
  return {};
}

Result<void> wait_healthy(NodeOps& ops, const Plan& plan, const Node& node, const Service& service,
                          const HealthOptions& options)
{
  auto deadline = Clock::now() + options.timeout;
  std::string last = "not checked";
  while (Clock::now() < deadline) {
    auto checked = check_once(ops, plan, node, service, options);
    if (checked) {
      return {};
    }
    last = checked.error();
    std::this_thread::sleep_for(Seconds{1});
  }
  return fail(service.name + " not healthy after " + std::to_string(options.timeout.count()) + "s: " + last);
}

} // namespace deploy
