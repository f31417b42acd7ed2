// What the user sees: per-node progress lines on stderr that never interleave,
// a live status line under them on a terminal (progress.hpp), and the summary
// table on stdout.
#pragma once

#include "summary_row.hpp"

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace deploy {

enum class Color { automatic, always, never };
/// What stdout carries: aligned text tables, or one JSON document (--json).
enum class Format { text, json };

/// Thread-safe progress printer and summary collector.
class Output {
public:
  /// `allow_live`: draw the live status line when live_status_wanted() (long
  /// commands: deploy, up, down, clean; never for output that streams, like logs).
  explicit Output(Color color = Color::automatic, Format format = Format::text, bool allow_live = false);
  ~Output();
  Output(const Output&) = delete;
  Output& operator=(const Output&) = delete;

  /// The live status line: the current phase (set by the orchestration), how many
  /// nodes a parallel step covers and has finished (set by Cluster), bytes sent.
  void phase(const std::string& name);
  void track(std::size_t nodes);
  void node_busy(const std::string& node);
  void node_done(const std::string& node);
  void sent(std::uint64_t bytes);
  bool live() const { return m_live; }

  /// Prints "node: message" as one line; lines of different nodes never interleave.
  void progress(const std::string& node, const std::string& message);
  /// Prints "cluster-deploy: <message>" as one line on stderr (an error says "error: " in
  /// `message`), clear of the live status line.
  void note(const std::string& message);
  /// Prints a block of text under a node heading, atomically (e.g. journal lines).
  void block(const std::string& node, const std::string& text);
  void add(SummaryRow row);
  std::vector<SummaryRow> rows() const;
  /// Prints the summary of `command` to stdout (a table, or JSON); `changed`, when
  /// known (deploy), says whether anything changed on any node. Returns true when
  /// every row is ok.
  bool print_summary(const std::string& command, const std::string& cluster,
                     std::optional<bool> changed = std::nullopt);
  bool colored() const { return m_color; }
  Format format() const { return m_format; }

private:
  using Clock = std::chrono::steady_clock;
  void draw_locked();  ///< (re)draws the status line (live only)
  void clear_locked(); ///< removes it, so a line can be printed
  void stop_live();

  mutable std::mutex m_mutex;
  std::vector<SummaryRow> m_rows;
  bool m_color = false;
  Format m_format = Format::text;
  bool m_live = false;
  bool m_line_shown = false;
  std::string m_phase;
  std::size_t m_done = 0, m_total = 0;
  std::uint64_t m_bytes = 0;
  std::optional<Clock::time_point> m_first_byte;
  std::map<std::string, Clock::time_point> m_busy; ///< node -> busy since
  std::condition_variable_any m_wake;
  std::jthread m_ticker; ///< redraws the line twice a second (live only)
};

/// Formats rows as an aligned text table (header + one line per row).
std::string format_table(const std::vector<std::vector<std::string>>& rows);

/// Seconds elapsed since `start`.
double seconds_since(std::chrono::steady_clock::time_point start);

} // namespace deploy
