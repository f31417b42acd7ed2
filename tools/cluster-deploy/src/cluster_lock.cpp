#include "cluster_lock.hpp"

#include "crash_point.hpp"
#include "output.hpp"
#include "parallel.hpp"

#include <pwd.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

namespace deploy {

std::string lock_holder_name(const std::string& command)
{
  // $USER is unset under cron and in many CI runners: ask the system.
  std::string user = "?";
  if (const char* env = std::getenv("USER"); env && *env) {
    user = env;
  } else if (const passwd* entry = getpwuid(geteuid())) {
    user = entry->pw_name;
  }
  char host[256] = "?";
  gethostname(host, sizeof host - 1);
  return user + "@" + host + " pid " + std::to_string(getpid()) + " " + command;
}

namespace {

std::string read_first_line(const std::string& path)
{
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

/// Field 22 of /proc/<pid>/stat (the start time in clock ticks since boot), or empty.
std::string process_start_time(const std::string& pid)
{
  std::string stat = read_first_line("/proc/" + pid + "/stat");
  auto paren = stat.rfind(')');
  if (paren == std::string::npos) {
    return "";
  }
  std::istringstream fields(stat.substr(paren + 2)); // field 3 on
  std::string field;
  for (int i = 3; i <= 22 && fields >> field; ++i) {
  }
  return field;
}

} // namespace

std::string controller_id()
{
  std::string pid = std::to_string(getpid());
  return read_first_line("/proc/sys/kernel/random/boot_id") + " " + pid + " " + process_start_time(pid);
}

bool controller_dead_here(const std::string& controller)
{
  std::istringstream words(controller);
  std::string boot, pid, start;
  if (!(words >> boot >> pid >> start) || boot != read_first_line("/proc/sys/kernel/random/boot_id") ||
      pid.find_first_not_of("0123456789") != std::string::npos) {
    return false; // another machine (or boot), or a record without it: only its node can judge
  }
  return process_start_time(pid) != start;
}

ClusterLock::ClusterLock(Cluster& cluster, const std::string& command, Seconds wait, Seconds lease)
    : m_cluster(cluster), m_parallel(cluster.parallel())
{
  if (const char* text = std::getenv("CLUSTER_DEPLOY_LOCK_LEASE"); text && std::atoi(text) > 0) {
    lease = Seconds{std::atoi(text)}; // a test's short lease (tests/helper/interrupted-lock.sh)
  }
  std::vector<NodeSlot*> pending;
  for (auto& slot : cluster.slots()) {
    if (slot.alive()) {
      pending.push_back(&slot);
    }
  }
  auto held_by = take(pending, lock_holder_name(command), wait, lease);
  if (held_by.empty()) {
    m_held = true;
    m_renewer = std::jthread([this, lease](std::stop_token stop) { renew_until(stop, lease); });
    crash_point("locked");
    return;
  }
  for (const auto& [node, holder] : held_by) {
    // description: "<who...> since <time> <seconds left>"
    const auto& text = holder.description;
    auto left = text.substr(text.rfind(' ') + 1);
    auto rest = text.substr(0, text.rfind(' '));
    m_cluster.output().note("error: " + node + " is locked by " + rest +
                            "; it frees when that run ends or its connection closes (in " + left +
                            " s at the latest)");
  }
  m_cluster.output().note("error: nothing was changed; wait for that run to finish, or pass --lock-wait SECONDS "
                          "to wait for it");
  release();
}

std::map<std::string, LockHolder> ClusterLock::take(std::vector<NodeSlot*> pending, const std::string& who,
                                                    Seconds wait, Seconds lease)
{
  const std::string controller = controller_id();
  std::map<std::string, LockHolder> held_by;    // node -> holder, for the nodes not taken yet
  std::map<std::string, std::string> dead_runs; // node -> a holder whose controller process is gone
  auto deadline = std::chrono::steady_clock::now() + wait;
  while (true) {
    held_by = take_round(pending, who, controller, lease, dead_runs);
    std::erase_if(pending, [&](NodeSlot* slot) { return held_by.count(slot->node->name) == 0; });
    // A holder whose controller process ran on this same machine and is gone: ask again at
    // once, naming it.
    bool found_dead = false;
    for (const auto& [node, holder] : held_by) {
      if (!holder.run.empty() && dead_runs[node] != holder.run && controller_dead_here(holder.controller)) {
        dead_runs[node] = holder.run;
        found_dead = true;
      }
    }
    if (pending.empty() || (!found_dead && std::chrono::steady_clock::now() + Seconds{2} > deadline)) {
      return held_by;
    }
    if (!found_dead) {
      std::this_thread::sleep_for(Seconds{2});
    }
  }
}

std::map<std::string, LockHolder> ClusterLock::take_round(const std::vector<NodeSlot*>& pending, const std::string& who,
                                                          const std::string& controller, Seconds lease,
                                                          std::map<std::string, std::string>& dead_runs)
{
  std::map<std::string, LockHolder> held_by;
  std::mutex mutex;
  m_cluster.for_each_of(pending, [&](NodeSlot& slot) {
    std::string dead;
    {
      std::lock_guard lock(mutex);
      dead = dead_runs[slot.node->name];
    }
    auto taken = slot.ops->lock(who, controller, lease, dead);
    std::lock_guard lock(mutex);
    if (!taken) {
      m_cluster.mark_failed(slot, "-", "lock", taken.error(), 0);
    } else if (*taken) {
      held_by[slot.node->name] = **taken;
    } else {
      if (const auto& stale = slot.ops->taken_over(); !stale.empty()) { // what a dead run left
        m_cluster.output().note(slot.node->name + ": took over the stale lock of " + stale);
      }
      m_taken.push_back(&slot);
    }
  });
  return held_by;
}

void ClusterLock::renew_until(std::stop_token stop, Seconds lease)
{
  std::mutex mutex;
  std::condition_variable_any wake;
  std::vector<char> lost(m_taken.size(), 0); // written by the threads below, one index each
  const auto every = std::max(Seconds{1}, lease / 4);
  while (true) {
    {
      std::unique_lock lock(mutex);
      if (wake.wait_for(lock, stop, every, [] { return false; }) || stop.stop_requested()) {
        return;
      }
    }
    // A node whose session is busy is skipped: the script running there holds the lock
    // (lock.sh), and a step stuck on a lost link must not hold up the other nodes' renewal.
    run_parallel(m_taken.size(), m_parallel, [&](std::size_t i) {
      NodeSlot& slot = *m_taken[i];
      if (!slot.ops || !slot.transport || lost[i] || stop.stop_requested() || slot.transport->busy()) {
        return;
      }
      if (auto renewed = slot.ops->renew_lock(); !renewed && renewed.error().find("not this run's") != std::string::npos) {
        lost[i] = 1; // said once
        m_cluster.output().progress(slot.node->name, "warning: " + renewed.error());
      }
    });
  }
}

ClusterLock::~ClusterLock()
{
  if (m_renewer.joinable()) {
    m_renewer.request_stop();
    m_renewer.join();
  }
  release();
}

void ClusterLock::release()
{
  // Also the nodes that failed during the run: a retry must not wait for our own lease.
  run_parallel(m_taken.size(), m_parallel, [this](std::size_t i) {
    if (m_taken[i]->ops) {
      (void)m_taken[i]->ops->unlock();
    }
  });
  m_taken.clear();
}

} // namespace deploy
