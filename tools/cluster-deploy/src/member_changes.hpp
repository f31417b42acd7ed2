// A deploy's changes to the members of groups with member hooks: asking each group who
// its members are, refusing what would cost a group its majority, recording whom each new
// member joins with, and running JOIN and LEAVE at their turn.
#pragma once

#include "cluster.hpp"
#include "membership.hpp"
#include "node_change.hpp"
#include "plan.hpp"

#include <map>
#include <string>
#include <vector>

namespace deploy {

/// For each selected service with MEMBERS: asks its group, decides who joins and who
/// leaves (Error, exit 2, before any node is changed, when that is refused; exit 1 when no
/// member answers although the group runs). A group that runs nowhere yet is founded by
/// the deploy: no change. Unless `dry_run`, records whom each new member joins with and
/// renders its release again (its @member_state@, @members:...@). Marks the joins in `work`.
std::map<std::string, MemberChanges> plan_member_changes(Cluster& cluster, const std::vector<const Service*>& services,
                                                         ClusterChanges& work, bool dry_run);

/// Runs JOIN for `joining` on a member of the group that is not joining in this run, after
/// moving aside what an earlier membership left in its data folder (it would start as the
/// member the group removed).
Result<void> announce_join(Cluster& cluster, const Service& service, NodeSlot& joining, const ClusterChanges& work);

/// Runs LEAVE for each member that leaves, one at a time, the leader last, each on a
/// member that stays: of the groups whose leaves go first (`first`), or of the others.
/// A member that left the inventory too is retired where it can be reached. True when every
/// one left.
bool run_leaves(Cluster& cluster, const std::map<std::string, MemberChanges>& membership, bool first);

} // namespace deploy
