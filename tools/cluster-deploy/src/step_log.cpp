#include "step_log.hpp"

#include <spdlog/spdlog.h>

#include <mutex>

namespace deploy {

namespace {

const auto k_run_start = std::chrono::steady_clock::now(); // the command run began

std::mutex g_audit_mutex;
std::function<void(const StepRecord&)> g_audit; // guarded by g_audit_mutex

double seconds_from(std::chrono::steady_clock::time_point start)
{
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

double epoch_seconds(std::chrono::system_clock::time_point t)
{
  return std::chrono::duration<double>(t.time_since_epoch()).count();
}

} // namespace

StepLog::StepLog(std::string node, std::string step)
    : m_node(std::move(node)), m_step(std::move(step)), m_start(std::chrono::steady_clock::now()),
      m_wall_start(std::chrono::system_clock::now())
{
}

StepLog::~StepLog()
{
  spdlog::debug("{}: at {:.3f}s: {} ({:.3f}s)", m_node, seconds_from(k_run_start), m_step, seconds_from(m_start));
  std::lock_guard lock(g_audit_mutex);
  if (g_audit) {
    g_audit({m_node, m_step, epoch_seconds(m_wall_start), epoch_seconds(std::chrono::system_clock::now()), m_result});
  }
}

void StepLog::audit_to(std::function<void(const StepRecord&)> sink)
{
  std::lock_guard lock(g_audit_mutex);
  g_audit = std::move(sink);
}

} // namespace deploy
