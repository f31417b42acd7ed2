// Faults for cluster tests: partition, loss, kill, pause, resume and stop on chosen nodes.
// Every fault heals itself on the node when its time is up (a systemd timer armed
// before the fault is applied); `heal` undoes all of ours at once.
#pragma once

#include "cluster.hpp"
#include "error.hpp"
#include "plan.hpp"

#include <functional>
#include <random>
#include <string>
#include <vector>

namespace deploy {

struct FaultOptions {
  std::string kind;                 ///< partition, loss, kill, pause, resume or stop
  std::vector<std::string> targets; ///< node names, group names, and one, minority, majority, leader
  std::vector<std::string> from;    ///< partition, loss: only the links with these nodes or groups
  int percent = 20;                 ///< loss: the share of packets dropped (Jepsen's default)
  int seconds = 600;                ///< the fault heals itself after this long (--for)
  bool keep_down = false;           ///< kill: keep the killed units stopped for the duration
};

/// Finds who leads a service's group (query_leader in production).
using LeaderQuery = std::function<Result<const Node*>(const Service&)>;

/// The nodes a fault acts on. Words are node names, group names or selectors
/// (one, minority, majority, leader) over the group of --service (or --group);
/// --node adds nodes, --group adds its whole group when no selector is given.
Result<std::vector<const Node*>> resolve_targets(const Plan& plan, const Selection& selection,
                                                 const std::vector<std::string>& words, const LeaderQuery& leader,
                                                 std::mt19937& random);

/// Applies the fault; prints the target nodes' names on stdout, one a line.
/// Refused (Error, exit 2) when the plan does not allow faults.
bool run_fault(Cluster& cluster, const Selection& selection, const FaultOptions& options);

/// `fault resume`: thaws what `fault pause` froze on the targets.
/// `heal`: undoes every fault of ours on every selected node.
bool run_heal(Cluster& cluster);

/// Prints the leader of the one selected service (`leader` command).
bool run_leader(Cluster& cluster, const std::vector<const Service*>& services);

} // namespace deploy
