// `fault schedule`: a random sequence of faults over a duration, one at a time, each healed
// before the next (Jepsen's combined nemesis, inside a CTest test). The same seed and the same
// inventory make the same sequence: kinds, durations and the nodes chosen.
#pragma once

#include "cluster.hpp"
#include "fault.hpp"

#include <string>
#include <vector>

namespace deploy {

struct ScheduleOptions {
  unsigned seed = 0;
  int seconds = 60;                                           ///< --for: the whole schedule
  std::vector<std::string> kinds = {"partition", "kill", "pause"}; ///< --kinds
  int shortest = 5, longest = 15;                             ///< --interval A-B: each fault's length
  bool dry_run = false;                                       ///< print the sequence, apply nothing
};

/// One fault of a schedule: when it starts (seconds from the start) and what it is.
struct ScheduledFault {
  int at = 0;
  FaultOptions fault; ///< kind, targets ("one"), seconds, seed (which node)
};

/// Parses "A-B" (seconds, 1 <= A <= B) into `options`.
Result<void> parse_interval(const std::string& text, ScheduleOptions& options);

/// The sequence: only from the options (pure). Faults follow one another until --for is used up.
std::vector<ScheduledFault> make_schedule(const ScheduleOptions& options);

/// Runs (or with dry_run prints) the schedule over the selected service's group: a JSON line on
/// stdout per fault ({"at","kind","targets","seconds","seed"}), applied, held, then healed.
/// Stops early, healing, on Ctrl-C or SIGTERM.
bool run_schedule(Cluster& cluster, const Selection& selection, const ScheduleOptions& options);

} // namespace deploy
