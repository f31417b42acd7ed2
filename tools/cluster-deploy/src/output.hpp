// What the user sees: per-node progress lines on stderr that never interleave,
// and the summary table on stdout.
#pragma once

#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace deploy {

enum class Color { automatic, always, never };
/// What stdout carries: aligned text tables, or one JSON document (--json).
enum class Format { text, json };

/// One row of the summary: what happened to one service (or the node) on one node.
struct SummaryRow {
  std::string node;
  std::string service; ///< "-" for node-level steps
  std::string action;  ///< unchanged, restarted, started, stopped, ...
  bool ok = true;
  std::string detail; ///< failure reason
  double seconds = 0;
};

/// Thread-safe progress printer and summary collector.
class Output {
public:
  explicit Output(Color color = Color::automatic, Format format = Format::text);

  /// Prints "node: message" as one line; lines of different nodes never interleave.
  void progress(const std::string& node, const std::string& message);
  /// Prints a block of text under a node heading, atomically (e.g. journal lines).
  void block(const std::string& node, const std::string& text);
  void add(SummaryRow row);
  std::vector<SummaryRow> rows() const;
  /// Prints the summary of `command` to stdout (a table, or JSON); `changed`, when
  /// known (deploy), says whether anything changed on any node. Returns true when
  /// every row is ok.
  bool print_summary(const std::string& command, const std::string& cluster,
                     std::optional<bool> changed = std::nullopt) const;
  bool colored() const { return m_color; }
  Format format() const { return m_format; }

private:
  mutable std::mutex m_mutex;
  std::vector<SummaryRow> m_rows;
  bool m_color = false;
  Format m_format = Format::text;
};

/// Formats rows as an aligned text table (header + one line per row).
std::string format_table(const std::vector<std::vector<std::string>>& rows);

/// Seconds elapsed since `start`.
double seconds_since(std::chrono::steady_clock::time_point start);

} // namespace deploy
