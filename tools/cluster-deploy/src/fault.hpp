// Faults for cluster tests: partition, loss, slow, clock, disk-full, corrupt, kill, pause, resume
// and stop on chosen nodes.
// Every fault heals itself on the node when its time is up (a systemd timer armed
// before the fault is applied); `heal` undoes all of ours at once.
#pragma once

#include "cluster.hpp"
#include "error.hpp"
#include "plan.hpp"

#include <functional>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace deploy {

struct FaultOptions {
  std::string kind;                 ///< partition, loss, slow, clock, disk-full, corrupt, kill, pause, resume, stop
  std::vector<std::string> targets; ///< node names, group names, and one, minority, majority, leader
  std::vector<std::string> from;    ///< partition, loss, slow: only the links with these nodes or groups
  int percent = 20;                 ///< loss: the share of packets dropped (Jepsen's default)
  std::string rate = "1mbit";       ///< slow: each link's rate each way, <n>kbit or <n>mbit
  std::string offset = "+300";      ///< clock: seconds the services' clock is ahead (+) or behind (-)
  std::string file;                 ///< corrupt: the file, relative to the service's data folder
  std::string mode = "bitflip";     ///< corrupt: bitflip (one bit) or truncate (the last half)
  bool one_way = false;             ///< partition, loss, slow: only the targets' side drops
  std::string shape;                ///< partition: halves, majorities-ring or bridge of the targets
  std::optional<unsigned> seed;     ///< the random choices (selectors, shapes), to repeat them
  int seconds = 600;                ///< the fault heals itself after this long (--for)
  bool keep_down = false;           ///< kill: keep the killed units stopped for the duration
};

/// Who drops what from whom: each node with the nodes whose packets it drops. A link is cut
/// both ways when each of its ends drops the other.
using Grudge = std::vector<std::pair<const Node*, std::vector<const Node*>>>;

/// The grudge of a network fault (partition, loss, slow) on `targets`: with a shape, the shape
/// among the targets (halves: two sides; majorities-ring: each node keeps its nearest
/// neighbours on a ring, a majority, and no two keep the same; bridge: two sides and one node
/// both reach); else the targets against the others (--from, or every other node), both ways
/// or (one_way) only the targets' side.
Result<Grudge> fault_grudge(const Plan& plan, const FaultOptions& options, const std::vector<const Node*>& targets,
                            std::mt19937& random);

/// A file to corrupt, as --file names it: relative to the data folder, inside it, one word.
Result<void> check_corrupt_file(const std::string& file);

/// A slow link's rate ("8mbit", "500kbit") in bytes per second.
Result<long> rate_bytes_per_second(const std::string& rate);

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

/// Applies the fault (not resume) and returns its targets, printing nothing on stdout; `ok`
/// becomes false when a node could not apply its part. Errors as run_fault.
std::vector<const Node*> apply_fault(Cluster& cluster, const Selection& selection, const FaultOptions& options,
                                     bool& ok);

/// `fault resume`: thaws what `fault pause` froze on the targets.
/// `heal`: undoes every fault of ours on every selected node.
bool run_heal(Cluster& cluster);

/// Prints the leader of the one selected service (`leader` command).
bool run_leader(Cluster& cluster, const std::vector<const Service*>& services);

} // namespace deploy
