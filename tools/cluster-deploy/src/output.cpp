#include "output.hpp"


#include "console.hpp"
#include "json_report.hpp"
#include "progress.hpp"

#include <sys/ioctl.h>

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <sstream>

namespace deploy {
namespace {

bool smart_terminal(int fd)
{
  const char* term = std::getenv("TERM");
  return isatty(fd) && term && std::string(term) != "dumb";
}

std::string fixed(double seconds)
{
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.1f", seconds);
  return buffer;
}

} // namespace

Output::Output(Color color, Format format, bool allow_live) : m_format(format)
{
  bool no_color = std::getenv("NO_COLOR") && *std::getenv("NO_COLOR");
  m_color = color == Color::always || (color == Color::automatic && smart_terminal(STDERR_FILENO) && !no_color);
  m_live = allow_live && live_status_wanted(isatty(STDERR_FILENO), std::getenv("TERM"), std::getenv("CI"));
  if (m_live) {
    m_ticker = std::jthread([this](std::stop_token stop) {
      std::unique_lock lock(m_mutex);
      while (!stop.stop_requested()) {
        m_wake.wait_for(lock, stop, std::chrono::milliseconds(500), [] { return false; });
        if (!stop.stop_requested()) {
          draw_locked();
        }
      }
    });
  }
}

Output::~Output()
{
  stop_live();
}

void Output::stop_live()
{
  if (m_ticker.joinable()) {
    m_ticker.request_stop();
    m_ticker.join();
  }
  std::lock_guard lock(m_mutex);
  clear_locked();
  m_live = false;
}

void Output::draw_locked()
{
  if (!m_live) {
    return;
  }
  ProgressSnapshot snapshot;
  snapshot.phase = m_phase;
  snapshot.done = m_done;
  snapshot.total = m_total;
  snapshot.bytes = m_bytes;
  auto now = Clock::now();
  if (m_first_byte && now > *m_first_byte) {
    snapshot.bytes_per_second =
        static_cast<double>(m_bytes) / std::chrono::duration<double>(now - *m_first_byte).count();
  }
  for (const auto& [node, since] : m_busy) {
    double seconds = std::chrono::duration<double>(now - since).count();
    if (snapshot.slowest.empty() || seconds > snapshot.slowest_seconds) {
      snapshot.slowest = node;
      snapshot.slowest_seconds = seconds;
    }
  }
  winsize size{};
  std::size_t width = ioctl(STDERR_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 0 ? size.ws_col : 80;
  print_err("\r\x1b[K" + format_status_line(snapshot, width));
  std::fflush(stderr);
  m_line_shown = true;
}

void Output::clear_locked()
{
  if (m_line_shown) {
    print_err("\r\x1b[K");
    std::fflush(stderr);
    m_line_shown = false;
  }
}

void Output::phase(const std::string& name)
{
  std::lock_guard lock(m_mutex);
  m_phase = name; // drawn with the next track()
}

void Output::track(std::size_t nodes)
{
  std::lock_guard lock(m_mutex);
  m_done = 0;
  m_total = nodes;
  m_busy.clear();
  draw_locked();
}

void Output::node_busy(const std::string& node)
{
  std::lock_guard lock(m_mutex);
  m_busy[node] = Clock::now();
}

void Output::node_done(const std::string& node)
{
  std::lock_guard lock(m_mutex);
  m_busy.erase(node);
  ++m_done;
  draw_locked();
}

void Output::sent(std::uint64_t bytes)
{
  std::lock_guard lock(m_mutex);
  if (!m_first_byte) {
    m_first_byte = Clock::now();
  }
  m_bytes += bytes;
}

void Output::progress(const std::string& node, const std::string& message)
{
  std::lock_guard lock(m_mutex);
  std::string line = node + ": " + message;
  if (m_color) {
    line = "\x1b[1m" + node + "\x1b[0m: " + message;
  }
  clear_locked();
  print_err(line + "\n");
  draw_locked();
  std::fflush(stderr);
}

void Output::note(const std::string& message)
{
  std::lock_guard lock(m_mutex);
  clear_locked();
  print_note(message);
  draw_locked();
  std::fflush(stderr);
}

void Output::block(const std::string& node, const std::string& text)
{
  std::lock_guard lock(m_mutex);
  clear_locked();
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    print_err(node + " | " + line + "\n");
  }
  draw_locked();
  std::fflush(stderr);
}

void Output::add(SummaryRow row)
{
  std::lock_guard lock(m_mutex);
  m_rows.push_back(std::move(row));
}

std::vector<SummaryRow> Output::rows() const
{
  std::lock_guard lock(m_mutex);
  return m_rows;
}

bool Output::print_summary(const std::string& command, const std::string& cluster, std::optional<bool> changed)
{
  stop_live(); // the summary replaces the status line
  auto rows = this->rows();
  std::stable_sort(rows.begin(), rows.end(), [](const SummaryRow& a, const SummaryRow& b) { return a.node < b.node; });
  bool all_ok = std::all_of(rows.begin(), rows.end(), [](const SummaryRow& row) { return row.ok; });
  std::string text;
  if (m_format == Format::json) {
    text = summary_json(command, cluster, rows, changed);
  } else {
    std::vector<std::vector<std::string>> table = {{"NODE", "SERVICE", "ACTION", "RESULT", "SECONDS"}};
    for (const auto& row : rows) {
      table.push_back({row.node, row.service, row.action, row.ok ? "ok" : "FAILED: " + row.detail, fixed(row.seconds)});
    }
    text = command + " summary:\n" + format_table(table);
    if (all_ok && changed == false) {
      text += "nothing changed on any node\n";
    }
  }
  std::lock_guard lock(m_mutex);
  print_out(text);
  std::fflush(stdout);
  return all_ok;
}

std::string format_table(const std::vector<std::vector<std::string>>& rows)
{
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    widths.resize(std::max(widths.size(), row.size()));
    for (size_t i = 0; i < row.size(); ++i) {
      widths[i] = std::max(widths[i], row[i].size());
    }
  }
  std::string text;
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) {
        line += std::string(widths[i] - row[i].size() + 2, ' ');
      }
    }
    text += line + "\n";
  }
  return text;
}

double seconds_since(std::chrono::steady_clock::time_point start)
{
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

} // namespace deploy
