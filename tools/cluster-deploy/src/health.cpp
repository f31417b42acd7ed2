#include "health.hpp"

#include "render.hpp"
#include "step_log.hpp"

#include <algorithm>
#include <atomic>
#include <optional>
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
  auto response = ops.transport().tcp_request(service.health.port, request, Seconds{10});
  if (!response) {
    step.result(response.error());
    return fail(response.error());
  }
  if (!http_status_ok(*response)) {
    step.result(status_line(*response));
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

/// What one look saw: the unit's state and, for an exec probe, the probe's answer from the same
/// round trip (none: the probe is asked on its own, probe_once).
struct Look {
  UnitState state;
  std::optional<Result<void>> probed;
};

/// `record`: an exec probe's look records the service as started if it finds it healthy;
/// `await`: the node runs an exec probe until it passes, that long at most, before it looks.
Result<Look> look(NodeOps& ops, const Plan& plan, const Node& node, const Service& service,
                  const std::optional<NodeOps::RecordIf>& record, std::chrono::milliseconds await)
{
  if (service.health.kind != Health::Kind::exec) {
    CD_TRY(state, ops.unit_state(service.name));
    return Look{*state, std::nullopt};
  }
  CD_TRY(command, expand_command(service.health.command, plan, node, service, "service " + service.name + " HEALTH"));
  CD_TRY(seen, ops.unit_state_and_probe(service.name, *command, record, await));
  if (seen->probe.succeeded()) {
    return Look{seen->state, Result<void>{}};
  }
  return Look{seen->state, fail("health command '" + *command + "' exited " + std::to_string(seen->probe.exit_status))};
}

/// The process a look saw running, and since when we watch it: the settle window runs
/// from the first look that saw this process (or from its start, window_start), not from each attempt.
struct Watched {
  long main_pid = 0;
  long restarts = 0;
  Clock::time_point since;
};

/// Where the settle window of the process a look has just seen running begins: at that look, or,
/// when the run knows when it asked for the start, when systemd had the process enter "active",
/// but not before that request.
Clock::time_point window_start(const UnitState& state, const HealthOptions& options)
{
  auto seen = Clock::now();
  if (!options.requested || state.uptime_ms < 0) {
    return seen;
  }
  return std::max(*options.requested, seen - std::chrono::milliseconds(state.uptime_ms));
}

/// What a look that would end the wait if it passes records in its round trip: the start,
/// with no window; once the watched process has run through it, as that process; and once the
/// window since the request has passed, if the node finds the unit active that long but not
/// longer than since the request (a process the looks have yet to see, or one whose window ends
/// while the look is under way: only the node knows its uptime then).
std::optional<NodeOps::RecordIf> record_with_look(const HealthOptions& options, const Watched* watched)
{
  using std::chrono::duration_cast;
  using std::chrono::milliseconds;
  const auto now = Clock::now();
  if (options.record.empty()) {
    return std::nullopt;
  }
  if (options.settle.count() == 0) {
    return NodeOps::RecordIf{options.record, 0};
  }
  if (watched && now >= watched->since + options.settle) {
    return NodeOps::RecordIf{options.record, watched->main_pid};
  }
  if (options.requested && now >= *options.requested + options.settle) {
    return NodeOps::RecordIf{options.record, watched ? watched->main_pid : 0,
                             duration_cast<milliseconds>(options.settle),
                             duration_cast<milliseconds>(now - *options.requested)};
  }
  return std::nullopt;
}

/// How many waits for health run at once in this process.
std::atomic<int> g_waiting{0};

struct Waiting {
  Waiting() { ++g_waiting; }
  ~Waiting() { --g_waiting; }
  Waiting(const Waiting&) = delete;
  Waiting& operator=(const Waiting&) = delete;
};

} // namespace

std::chrono::milliseconds longest_look_pause(int waiting)
{
  return std::clamp(std::chrono::milliseconds(20 * waiting), std::chrono::milliseconds(1000),
                    std::chrono::milliseconds(3000));
}

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

std::string probe_ask(const std::string& service)
{
  return "HEALTH " + service;
}

std::map<std::string, std::string> exec_probes(const Plan& plan, const Node& node,
                                               const std::vector<std::string>& services)
{
  std::map<std::string, std::string> probes;
  for (const auto& name : services) {
    const Service* service = plan.find_service(name);
    if (service && service->health.kind == Health::Kind::exec) {
      auto command = expand_command(service->health.command, plan, node, *service, "service " + name + " HEALTH");
      if (command) { // else the probe itself says why, later
        probes[probe_ask(name)] = *command;
      }
    }
  }
  return probes;
}

Result<void> wait_healthy(NodeOps& ops, const Plan& plan, const Node& node, const Service& service,
                          const HealthOptions& options)
{
  // Looks come quickly at first (a service that just started is often ready within a
  // fraction of a second) and then once a second, less often while many nodes are waited on
  // (longest_look_pause); the whole wait is bounded by the timeout. An exec probe waits on the
  // node instead, for as long as the pause: the look comes back as soon as the probe passes.
  constexpr std::chrono::milliseconds first_pause{200};
  const bool awaits = service.health.kind == Health::Kind::exec;
  Waiting waiting;
  auto deadline = Clock::now() + options.timeout;
  auto pause = first_pause;
  Watched watched;
  bool watching = false;
  std::string last = "not checked";
  auto wait_until = [&](Clock::time_point until) { std::this_thread::sleep_until(std::min(until, deadline)); };
  while (Clock::now() < deadline) {
    auto record = record_with_look(options, watching ? &watched : nullptr);
    auto looked_at = Clock::now();
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - looked_at);
    auto seen = look(ops, plan, node, service, record, awaits ? std::min(pause, left) : std::chrono::milliseconds{0});
    const UnitState* state = seen ? &seen->state : nullptr;
    if (!state || !state->running()) {
      last = state ? "unit is " + state->active + " (" + state->sub + ")" : seen.error();
      watching = false;
    } else {
      if (watching && (state->main_pid != watched.main_pid || state->restarts != watched.restarts)) {
        last = "unit restarted while settling (" + std::to_string(state->restarts) + " restarts)";
        watching = false;
      }
      if (!watching) {
        watched = Watched{state->main_pid, state->restarts, window_start(*state, options)};
        watching = true;
      }
      auto probed = seen->probed ? *seen->probed : probe_once(ops, plan, node, service);
      if (probed) {
        auto settled_at = watched.since + options.settle;
        if (Clock::now() >= settled_at) {
          return {};
        }
        wait_until(settled_at); // then look again: still the same process, and the probe still passes
        continue;
      }
      last = probed.error();
    }
    wait_until((awaits ? looked_at : Clock::now()) + pause); // after an await that took the pause, none
    pause = std::min(pause * 2, longest_look_pause(g_waiting.load()));
  }
  return fail(service.name + " not healthy after " + std::to_string(options.timeout.count()) + "s: " + last);
}

} // namespace deploy
