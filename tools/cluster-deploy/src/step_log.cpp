#include "step_log.hpp"

#include <spdlog/spdlog.h>

namespace deploy {

namespace {

const auto k_run_start = std::chrono::steady_clock::now(); // the command run began

double seconds_from(std::chrono::steady_clock::time_point start)
{
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

} // namespace

StepLog::StepLog(std::string node, std::string step)
    : m_node(std::move(node)), m_step(std::move(step)), m_start(std::chrono::steady_clock::now())
{
}

StepLog::~StepLog()
{
  spdlog::debug("{}: at {:.3f}s: {} ({:.3f}s)", m_node, seconds_from(k_run_start), m_step, seconds_from(m_start));
}

} // namespace deploy
