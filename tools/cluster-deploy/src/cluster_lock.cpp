#include "cluster_lock.hpp"

#include "parallel.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <thread>

namespace deploy {

std::string lock_holder_name(const std::string& command)
{
  const char* user = std::getenv("USER");
  char host[256] = "?";
  gethostname(host, sizeof host - 1);
  return std::string(user && *user ? user : "?") + "@" + host + " pid " + std::to_string(getpid()) + " " + command;
}

ClusterLock::ClusterLock(Cluster& cluster, const std::string& command, Seconds wait, Seconds lease)
    : m_cluster(cluster), m_parallel(cluster.parallel())
{
  std::string who = lock_holder_name(command);
  std::map<std::string, std::string> held_by; // node -> holder, for the nodes not taken yet
  std::mutex mutex;
  std::vector<NodeSlot*> pending;
  for (auto& slot : cluster.slots()) {
    if (slot.alive()) {
      pending.push_back(&slot);
    }
  }
  auto deadline = std::chrono::steady_clock::now() + wait;
  while (true) {
    held_by.clear();
    cluster.for_each_of(pending, [&](NodeSlot& slot) {
      auto taken = slot.ops->lock(who, lease);
      std::lock_guard lock(mutex);
      if (!taken) {
        cluster.mark_failed(slot, "-", "lock", taken.error(), 0);
      } else if (*taken) {
        held_by[slot.node->name] = **taken;
      } else {
        m_taken.push_back(&slot);
      }
    });
    std::erase_if(pending, [&](NodeSlot* slot) { return held_by.count(slot->node->name) == 0; });
    if (pending.empty() || std::chrono::steady_clock::now() + Seconds{2} > deadline) {
      break;
    }
    std::this_thread::sleep_for(Seconds{2});
  }
  if (held_by.empty()) {
    m_held = true;
    return;
  }
  for (const auto& [node, holder] : held_by) {
    // holder: "<who...> since <time> <seconds left>"
    auto left = holder.substr(holder.rfind(' ') + 1);
    auto rest = holder.substr(0, holder.rfind(' '));
    std::fprintf(stderr, "cluster-deploy: error: %s is locked by %s (for %s s more if that run is gone)\n",
                 node.c_str(), rest.c_str(), left.c_str());
  }
  std::fprintf(stderr, "cluster-deploy: error: nothing was changed; wait for that run to finish, or pass "
                       "--lock-wait SECONDS to wait for it\n");
  release();
}

ClusterLock::~ClusterLock()
{
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
