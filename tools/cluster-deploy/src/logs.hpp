// logs: the services' journals from every selected node, merged by time.
#pragma once

#include "cluster.hpp"

#include <string>
#include <utility>
#include <vector>

namespace deploy {

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
