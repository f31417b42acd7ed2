#include "output.hpp"

#include "json_report.hpp"

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

Output::Output(Color color, Format format) : m_format(format)
{
  bool no_color = std::getenv("NO_COLOR") && *std::getenv("NO_COLOR");
  m_color = color == Color::always || (color == Color::automatic && smart_terminal(STDERR_FILENO) && !no_color);
}

void Output::progress(const std::string& node, const std::string& message)
{
  std::lock_guard lock(m_mutex);
  std::string line = node + ": " + message;
  if (m_color) {
    line = "\x1b[1m" + node + "\x1b[0m: " + message;
  }
  std::fprintf(stderr, "%s\n", line.c_str());
  std::fflush(stderr);
}

void Output::block(const std::string& node, const std::string& text)
{
  std::lock_guard lock(m_mutex);
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    std::fprintf(stderr, "%s | %s\n", node.c_str(), line.c_str());
  }
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

bool Output::print_summary(const std::string& command, const std::string& cluster, std::optional<bool> changed) const
{
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
  std::printf("%s", text.c_str());
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
