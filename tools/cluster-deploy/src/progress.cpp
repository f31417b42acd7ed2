#include "progress.hpp"

#include <cstdio>

namespace deploy {

std::string format_bytes(std::uint64_t bytes)
{
  const char* units[] = {"KiB", "MiB", "GiB", "TiB"};
  if (bytes < 1024) {
    return std::to_string(bytes) + " B";
  }
  double value = static_cast<double>(bytes) / 1024;
  size_t unit = 0;
  while (value >= 1024 && unit + 1 < std::size(units)) {
    value /= 1024;
    ++unit;
  }
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.1f %s", value, units[unit]);
  return buffer;
}

std::string format_status_line(const ProgressSnapshot& snapshot, std::size_t width)
{
  std::string line = (snapshot.phase.empty() ? std::string("working") : snapshot.phase) + ": " +
                     std::to_string(snapshot.done) + "/" + std::to_string(snapshot.total) + " nodes";
  if (snapshot.bytes > 0) {
    line += " | " + format_bytes(snapshot.bytes) + " sent";
    if (snapshot.bytes_per_second > 0) {
      line += ", " + format_bytes(static_cast<std::uint64_t>(snapshot.bytes_per_second)) + "/s";
    }
  }
  if (!snapshot.slowest.empty()) {
    char seconds[32];
    std::snprintf(seconds, sizeof seconds, "%.1fs", snapshot.slowest_seconds);
    line += " | slowest: " + snapshot.slowest + " " + seconds;
  }
  if (width > 4 && line.size() > width - 1) {
    line = line.substr(0, width - 4) + "...";
  }
  return line;
}

bool live_status_wanted(bool stderr_is_tty, const char* term, const char* ci)
{
  bool in_ci = ci && *ci;
  return stderr_is_tty && term && std::string(term) != "dumb" && !in_ci;
}

} // namespace deploy
