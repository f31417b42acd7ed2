// The live status line shown under the progress lines on a terminal: phase, nodes
// done / total, bytes sent and rate, and the node busy the longest. Pure formatting;
// Output draws it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace deploy {

struct ProgressSnapshot {
  std::string phase; ///< stage, activate, start <service>, health <service>, ...
  std::size_t done = 0;
  std::size_t total = 0;
  std::uint64_t bytes = 0; ///< sent so far by this run
  double bytes_per_second = 0;
  std::string slowest; ///< the node busy the longest in this phase ("" = none busy)
  double slowest_seconds = 0;
};

/// "stage: 3/10 nodes | 12.4 MiB sent, 5.1 MiB/s | slowest: worker7 8.2s", cut to
/// `width` - 1 characters (0: no limit) so the line never wraps.
std::string format_status_line(const ProgressSnapshot& snapshot, std::size_t width);

/// 512 B, 12.0 KiB, 12.4 MiB, 1.2 GiB.
std::string format_bytes(std::uint64_t bytes);

/// The status line is drawn only on a terminal (stderr a TTY, TERM not dumb) and
/// never in CI (CI set and not empty): there, plain lines only.
bool live_status_wanted(bool stderr_is_tty, const char* term, const char* ci);

} // namespace deploy
