// collect: a window's evidence from the nodes (remote/collect.sh), written as one folder by
// evidence.cpp. Reads only: nothing on a node changes.
#pragma once

#include "cluster.hpp"
#include "evidence.hpp"

#include <filesystem>
#include <string>
#include <vector>

namespace deploy {

struct CollectOptions {
  double since = 0; ///< seconds since the epoch
  double until = 0;
  std::filesystem::path out;
  std::string test;   ///< the failed test, when a test's run asked
  std::string result; ///< how it ended
  std::filesystem::path test_output; ///< its output so far (optional)
  std::filesystem::path history;     ///< its client's JSON-lines history (optional)
  std::size_t max_journal_bytes = 8u << 20; ///< per node
  std::vector<std::string> left_out; ///< nodes the sample left out (sample_nodes)
};

/// Collects the window from the nodes in parallel (each bounded in time and bytes) and writes
/// the folder. Returns the files that matter most, summary.txt first.
Result<std::vector<std::filesystem::path>> run_collect(Cluster& cluster, const std::vector<const Service*>& services,
                                                       const CollectOptions& options);

/// Connects to `nodes` (sampled when there are many; empty: every node of the plan) and collects
/// what `services` logged (empty: every service). A node that cannot be reached is named in the
/// summary.
Result<std::vector<std::filesystem::path>> collect_from_plan(const Plan& plan, std::vector<const Node*> nodes,
                                                             std::vector<const Service*> services,
                                                             const Connector& connector, Output& output,
                                                             CollectOptions options);

/// Nodes read by one collection at most; more are sampled.
inline constexpr std::size_t k_collect_max_nodes = 40;

/// The nodes a collection reads when there are more than `max_nodes`: every node of a group with
/// a Raft-like service, then the other groups' nodes in turn. `left_out` gets the rest.
std::vector<const Node*> sample_nodes(const Plan& plan, const std::vector<const Node*>& nodes, std::size_t max_nodes,
                                      std::vector<std::string>& left_out);

/// Parses --since/--until: seconds since the epoch (optionally "@" first), "-<N>s|m|h" (ago),
/// or "YYYY-MM-DDTHH:MM:SS[Z]" (UTC).
Result<double> parse_time(const std::string& text, double now);

} // namespace deploy
