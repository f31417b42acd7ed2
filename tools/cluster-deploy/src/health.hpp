// Health: systemd says active (running), no restart during a settle window, and
// the declared probe passes. Every wait is bounded.
#pragma once

#include "error.hpp"
#include "node_ops.hpp"
#include "plan.hpp"

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace deploy {

struct HealthOptions {
  Seconds timeout{120};
  /// How long the same process must be seen running, counted from the first look that
  /// saw it (see `requested`); 0: no window (a service this run did not start).
  Seconds settle{2};
  /// When this run asked for the (re)start, if it did: then the window counts from when systemd
  /// had the process enter "active" (the node's UptimeMs), but never from before this moment
  /// (a process active since before it may be the old one, not yet stopped).
  std::optional<std::chrono::steady_clock::time_point> requested{};
  /// Not empty: the look that finds an exec-probed service healthy also records it as started
  /// from this digest, in the same round trip (NodeOps::record_started then has nothing to do).
  std::string record{};
};

/// Runs the service's probe once; fails saying why.
Result<void> probe_once(NodeOps& ops, const Plan& plan, const Node& node, const Service& service);

/// The exec probes ("HEALTH <service>" -> its command, expanded for `node`) of those of
/// `services` that have one: NodeOps::read_with_lock runs them with the lock, so that a
/// service left as it was needs no round trip of its own (rollout.cpp, check_health_on).
std::map<std::string, std::string> exec_probes(const Plan& plan, const Node& node,
                                               const std::vector<std::string>& services);
/// The name exec_probes gives `service`'s probe.
std::string probe_ask(const std::string& service);

/// Waits until `service` on `node` is healthy, or fails with the last reason.
Result<void> wait_healthy(NodeOps& ops, const Plan& plan, const Node& node, const Service& service,
                          const HealthOptions& options);

/// The longest pause between two looks of a wait for health while `waiting` such waits run at
/// once: a second up to 50 nodes, then 20 ms more a node, up to 3 s. Every look costs its node
/// a sudo, a shell, systemctl and the probe: at 100 workers starting on a machine's 2 cores,
/// looks once a second were 887 round trips of one first deploy, their CPU taken from the
/// workers' own start (docs/benchmarks.md, 103 nodes).
std::chrono::milliseconds longest_look_pause(int waiting);

/// True if `response` starts with an HTTP status line whose code is 2xx.
bool http_status_ok(std::string_view response);

} // namespace deploy
