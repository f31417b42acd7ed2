// One node's part of a deploy or rollback: what the staging steps (deploy.cpp, fan_out.cpp)
// and the rollout (rollout.cpp) share.
#pragma once

#include "changes.hpp"
#include "node_ops.hpp"
#include "release.hpp"

#include <map>
#include <set>
#include <string>

namespace deploy {

/// One node's part of a deploy or rollback.
struct NodeChange {
  NodeRelease release; ///< what the node switches to
  ChangeSet changes;
  RemoteState before; ///< what it had: where a failed batch takes it back
  /// Its services' units as read with `before`: one left as it was and running then is
  /// checked by its probe alone.
  std::map<std::string, UnitState> units_before;
  /// Services whose group this node joins in this run (JOIN before its first start).
  std::set<std::string> joins;
  bool sealed = false;           ///< staged and sealed already while prepared (stage_in_one_trip)
  bool switched = false;         ///< switched to `release` in this run
  std::string reason = "deploy"; ///< why it switches (deploy.log): deploy or rollback
};

using ClusterChanges = std::map<std::string, NodeChange>;

} // namespace deploy
