// The nodes a command changes are locked for its run: two runs at once (CI and a
// developer, a deploy and a clean) never interleave on a node.
#pragma once

#include "cluster.hpp"
#include "node_ops.hpp"

#include <map>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

namespace deploy {

/// Holds every alive node of a cluster for this command run, or none of them.
class ClusterLock {
public:
  /// Takes every alive node's lock (remote/lock.sh), in parallel. Nodes another run
  /// holds are asked again every 2 s for up to `wait`; if one is still held then, the
  /// nodes taken are given back and held() is false (the reasons are on stderr).
  /// A run whose controller died holds its nodes until its connection closes (or, where
  /// the node cannot tell, `lease` after its last step); one whose controller ran on this
  /// machine and is gone is taken over at once. While held, a thread renews every node
  /// taken each quarter lease, so a node waiting for its batch longer than the lease stays
  /// this run's. $CLUSTER_DEPLOY_LOCK_LEASE (seconds) overrides `lease`, for tests.
  ClusterLock(Cluster& cluster, const std::string& command, Seconds wait, Seconds lease = Seconds{600});
  /// Stops renewing and gives back every node taken.
  ~ClusterLock();
  ClusterLock(const ClusterLock&) = delete;
  ClusterLock& operator=(const ClusterLock&) = delete;

  bool held() const { return m_held; }

private:
  /// Takes the `pending` nodes, asking again every 2 s for up to `wait` (at once where a
  /// holder's controller is found dead here); returns the nodes still held by others.
  std::map<std::string, LockHolder> take(std::vector<NodeSlot*> pending, const std::string& who, Seconds wait,
                                         Seconds lease);
  /// One lock.sh on each pending node, in parallel; `dead_runs` names a dead holder per node.
  std::map<std::string, LockHolder> take_round(const std::vector<NodeSlot*>& pending, const std::string& who,
                                               const std::string& controller, Seconds lease,
                                               std::map<std::string, std::string>& dead_runs);
  /// Renews every node taken each `lease / 4` until `stop` is requested (the renewer thread).
  void renew_until(std::stop_token stop, Seconds lease);
  void release();

  Cluster& m_cluster;
  int m_parallel;
  std::vector<NodeSlot*> m_taken;
  bool m_held = false;
  std::jthread m_renewer;
};

/// "user@host pid <pid> <command>": who holds a node, as other runs see it.
std::string lock_holder_name(const std::string& command);

/// "<boot id> <pid> <start time>": this process, as lock.sh records its controller.
std::string controller_id();

/// True when `controller` (a controller_id()) was a process of this machine's current boot
/// that is gone: its run is dead, and its locks need not wait for the connection or lease.
bool controller_dead_here(const std::string& controller);

} // namespace deploy
