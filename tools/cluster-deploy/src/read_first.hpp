// A deploy that finds nothing to change takes no lock: it reads every node first, in the
// round trip that would have taken the lock, and so needs no round trip to give it back.
// It tries that only when this build tree's last deploy left every node of the run at the
// release it would deploy now (deployed.txt), so that a deploy that changes something does
// not pay a round trip more.
#pragma once

#include "cluster.hpp"
#include "plan.hpp"
#include "release.hpp"

#include <map>
#include <set>
#include <string>
#include <vector>

namespace deploy {

/// Notes in <output>/deployed.txt the release each node of `releases` runs after a deploy
/// that succeeded (the nodes of earlier runs stay noted). A note that cannot be written is
/// only a round trip more next time: it is said, not fatal.
void record_deployed(const Plan& plan, const std::map<std::string, std::string>& releases);

/// Takes the nodes of `cluster` out of deployed.txt, before a command that may leave them at
/// another release (clean, rollback): the next deploy to them then locks before it reads, as
/// it must change something.
void forget_deployed(Cluster& cluster);

/// The nodes deployed.txt has a note of, at any release: a node it lacks has never been
/// deployed from this build tree, or was cleaned or rolled back since (forget_deployed()).
std::set<std::string> noted_nodes(const Plan& plan);

/// True when deployed.txt has each node of `releases` at that release.
bool deployed_before(const Plan& plan, const std::map<std::string, NodeRelease>& releases);

/// When deployed_before(), reads every node without its lock (NodeOps::read_ahead, after
/// read_with_lock()); true when every node answered, none is locked and the deploy of
/// `services` would change nothing: every node at its release with nothing to restart,
/// every unit of it running, every probe and group query asked passed, no member to join
/// or leave. Then every node refuses changes for the rest of the run (NodeOps::forbid_changes).
bool unchanged_without_lock(Cluster& cluster, const std::vector<const Service*>& services,
                            const std::map<std::string, NodeRelease>& releases);

} // namespace deploy
