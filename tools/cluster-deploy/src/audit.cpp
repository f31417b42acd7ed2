#include "audit.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <memory>
#include <sstream>

namespace deploy {
namespace {

using nlohmann::json;

std::vector<json> read_lines(const std::filesystem::path& file)
{
  std::vector<json> lines;
  std::ifstream in(file);
  for (std::string line; std::getline(in, line);) {
    json j = json::parse(line, nullptr, false);
    if (!j.is_discarded() && j.is_object()) {
      lines.push_back(std::move(j));
    }
  }
  return lines;
}

std::string utc(double seconds)
{
  auto t = static_cast<std::time_t>(seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

std::string step_lines(const std::filesystem::path& file)
{
  auto steps = read_lines(file);
  if (steps.empty()) {
    return "no steps recorded for this run (" + file.string() + ")\n";
  }
  std::stable_sort(steps.begin(), steps.end(),
                   [](const json& a, const json& b) { return a.value("start", 0.0) < b.value("start", 0.0); });
  double first = steps.front().value("start", 0.0);
  std::string text;
  for (const auto& s : steps) {
    char line[128];
    std::snprintf(line, sizeof line, "%+8.3fs %7.3fs  %-10s  ", s.value("start", 0.0) - first,
                  s.value("end", 0.0) - s.value("start", 0.0), s.value("node", "").c_str());
    text += line + s.value("step", "") + "  " + s.value("result", "") + "\n";
  }
  return text;
}

} // namespace

void append_run(const std::filesystem::path& file, const RunRecord& run)
{
  std::ofstream out(file, std::ios::app);
  out << json{{"run", run.run}, {"command", run.command}, {"start", run.start}, {"end", run.end}, {"exit", run.exit}}
             .dump()
      << "\n";
}

std::vector<RunRecord> read_runs(const std::filesystem::path& file, double since, double until)
{
  std::vector<RunRecord> runs;
  for (const auto& j : read_lines(file)) {
    RunRecord r{j.value("run", ""), j.value("command", ""), j.value("start", 0.0), j.value("end", 0.0),
                j.value("exit", 0), j.dump()};
    if (r.end >= since && r.start <= until) {
      runs.push_back(std::move(r));
    }
  }
  return runs;
}

std::function<void(const StepRecord&)> audit_file(const std::filesystem::path& file)
{
  std::error_code ec;
  std::filesystem::create_directories(file.parent_path(), ec);
  auto out = std::make_shared<std::ofstream>(file, std::ios::app);
  return [out](const StepRecord& step) { // StepLog calls it under its own lock
    *out << json{{"node", step.node}, {"step", step.step}, {"start", step.start}, {"end", step.end},
                 {"result", step.result}}
                .dump()
         << "\n";
    out->flush();
  };
}

std::string runs_report(const std::filesystem::path& output, int last, const std::string& run)
{
  if (!run.empty()) {
    return step_lines(output / "runs" / (run + ".jsonl"));
  }
  auto runs = read_runs(output / "runs.jsonl", 0, 1e18);
  if (runs.empty()) {
    return "no run has changed nodes from this build tree yet\n";
  }
  std::string text;
  for (auto it = runs.end() - std::min<std::ptrdiff_t>(last, static_cast<std::ptrdiff_t>(runs.size()));
       it != runs.end(); ++it) {
    char line[160];
    std::snprintf(line, sizeof line, "%s  %-8s  %s  %7.1fs  exit %d\n", utc(it->start).c_str(), it->command.c_str(),
                  it->run.c_str(), it->end - it->start, it->exit);
    text += line;
  }
  return text + "(cluster-deploy runs --plan P --run <id>: the steps of one run, per node)\n";
}

} // namespace deploy
