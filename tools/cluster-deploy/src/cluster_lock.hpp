// The nodes a command changes are locked for its run: two runs at once (CI and a
// developer, a deploy and a clean) never interleave on a node.
#pragma once

#include "cluster.hpp"

#include <string>
#include <vector>

namespace deploy {

/// Holds every alive node of a cluster for this command run, or none of them.
class ClusterLock {
public:
  /// Takes every alive node's lock (remote/lock.sh), in parallel. Nodes another run
  /// holds are asked again every 2 s for up to `wait`; if one is still held then, the
  /// nodes taken are given back and held() is false (the reasons are on stderr).
  /// A run whose controller died holds its nodes until `lease` after its last step.
  ClusterLock(Cluster& cluster, const std::string& command, Seconds wait, Seconds lease = Seconds{600});
  /// Gives back every node taken.
  ~ClusterLock();
  ClusterLock(const ClusterLock&) = delete;
  ClusterLock& operator=(const ClusterLock&) = delete;

  bool held() const { return m_held; }

private:
  void release();

  Cluster& m_cluster;
  int m_parallel;
  std::vector<NodeSlot*> m_taken;
  bool m_held = false;
};

/// "user@host pid <pid> <command>": who holds a node, as other runs see it.
std::string lock_holder_name(const std::string& command);

} // namespace deploy
