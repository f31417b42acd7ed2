// How long each step on a node took, for -v: where a deploy spends its time, per node.
#pragma once

#include <chrono>
#include <string>

namespace deploy {

/// Logs one step on a node when it ends, for -v: "<node>: at <s since the run began>:
/// <step> (<its seconds>)", so where a deploy spends its time can be read per node.
class StepLog {
public:
  StepLog(std::string node, std::string step);
  ~StepLog();
  StepLog(const StepLog&) = delete;
  StepLog& operator=(const StepLog&) = delete;

private:
  std::string m_node;
  std::string m_step;
  std::chrono::steady_clock::time_point m_start;
};

} // namespace deploy
