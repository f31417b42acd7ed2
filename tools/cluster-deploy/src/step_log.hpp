// How long each step on a node took: for -v, and for the run's audit file (one JSON line per
// node step, <build>/cluster-deploy/runs/<run>.jsonl, shown by `cluster-deploy runs`).
#pragma once

#include <chrono>
#include <functional>
#include <string>

namespace deploy {

/// One step on a node, as the audit file records it (times in seconds since the epoch).
struct StepRecord {
  std::string node;
  std::string step;
  double start = 0;
  double end = 0;
  std::string result; ///< "ok", "exit <n>", or why it failed
};

/// Logs one step on a node when it ends, for -v: "<node>: at <s since the run began>:
/// <step> (<its seconds>)", so where a deploy spends its time can be read per node; and hands
/// it to the audit sink when one is set.
class StepLog {
public:
  StepLog(std::string node, std::string step);
  ~StepLog();
  StepLog(const StepLog&) = delete;
  StepLog& operator=(const StepLog&) = delete;

  /// How the step ended (default "ok").
  void result(std::string text) { m_result = std::move(text); }

  /// Where every ended step goes from now on (called from any thread, one at a time);
  /// an empty function stops it.
  static void audit_to(std::function<void(const StepRecord&)> sink);

private:
  std::string m_node;
  std::string m_step;
  std::string m_result = "ok";
  std::chrono::steady_clock::time_point m_start;
  std::chrono::system_clock::time_point m_wall_start;
};

} // namespace deploy
