// The audit of the runs that changed nodes, in the build tree, like tiup's audit log:
// <build>/cluster-deploy/runs.jsonl (one line a run: run id, command, start, end, exit) and
// <build>/cluster-deploy/runs/<run>.jsonl (one line a node step: node, step, start, end,
// result). `cluster-deploy runs` shows them; a failed test's evidence copies the runs of its
// window.
#pragma once

#include "step_log.hpp"

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace deploy {

/// A command run of the helper that changed nodes.
struct RunRecord {
  std::string run;
  std::string command;
  double start = 0;
  double end = 0;
  int exit = 0;
  std::string line; ///< as read
};

/// Appends one run to runs.jsonl (the commands that change nodes, at their end).
void append_run(const std::filesystem::path& file, const RunRecord& run);
/// Reads the runs of runs.jsonl that overlap [since, until].
std::vector<RunRecord> read_runs(const std::filesystem::path& file, double since, double until);

/// A sink for StepLog::audit_to that appends each step to `file` as a JSON line.
std::function<void(const StepRecord&)> audit_file(const std::filesystem::path& file);

/// What `cluster-deploy runs` prints: the last `last` runs of <output>/runs.jsonl, one line
/// each; with `run`, that run's steps (from <output>/runs/<run>.jsonl) in the order they began.
std::string runs_report(const std::filesystem::path& output, int last, const std::string& run);

} // namespace deploy
