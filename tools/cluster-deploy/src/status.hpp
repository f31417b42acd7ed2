// status: what runs where, from every selected node.
#pragma once

#include "cluster.hpp"
#include "json_report.hpp"

#include <vector>

namespace deploy {

/// Reads every selected node's release, drift and services' states (unreachable
/// nodes included), sorted by node name.
std::vector<NodeStatus> collect_status(Cluster& cluster, const std::vector<const Service*>& services);

/// Prints one row per node and service: state, pid, uptime, restarts, release and
/// drift (or, with Format::json, status_json). Returns true when every service runs.
bool run_status(Cluster& cluster, const std::vector<const Service*>& services);

} // namespace deploy
