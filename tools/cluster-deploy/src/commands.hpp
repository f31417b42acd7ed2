// The read-only commands: status and logs.
#pragma once

#include "cluster.hpp"
#include "json_report.hpp"

#include <string>

namespace deploy {

/// Reads every selected node's release, drift and services' states (unreachable
/// nodes included), sorted by node name.
std::vector<NodeStatus> collect_status(Cluster& cluster, const std::vector<const Service*>& services);

/// Prints one row per node and service: state, pid, uptime, restarts, release and
/// drift (or, with Format::json, status_json). Returns true when every service runs.
bool run_status(Cluster& cluster, const std::vector<const Service*>& services);

struct LogOptions {
  int lines = 50;
  std::string since; ///< passed to journalctl --since
  bool follow = false;
};

/// Prints the services' journal from every node, merged by time, each line
/// prefixed with its node. With `follow`, streams until interrupted.
bool run_logs(Cluster& cluster, const std::vector<const Service*>& services, const LogOptions& options);

/// Sorts "node | timestamp rest" lines by their timestamp (stable).
std::vector<std::string> merge_by_time(std::vector<std::pair<std::string, std::string>> node_lines);

} // namespace deploy
