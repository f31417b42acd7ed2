// The order and batches of (re)starts, shared by deploy, up and rollback.
//
// Services go in AFTER order (services of other groups that do not depend on each other at
// the same time). Per service, instances that do not run are started
// together (the BOOTSTRAP node first); running instances that must restart roll in
// batches: SERIAL nodes (or a share) at a time, a CANARY batch first, never more
// members of a quorum group than it can lose, its leader last, each batch healthy
// and the group's QUORUM check passing before the next. A node switches to its new
// release only at its turn, so a node not yet rolled still runs (and on a crash
// restarts) what it ran. A node whose batch fails goes back to its previous
// release; once more nodes failed than MAX_FAIL allows, every node switched in this
// run goes back and the rollout stops.
#pragma once

#include "changes.hpp"
#include "cluster.hpp"
#include "health.hpp"
#include "node_change.hpp"

#include <map>
#include <string>
#include <vector>

namespace deploy {


/// Sizes of the consecutive batches in which `rolling` running instances of `service`
/// restart, in a group of `group_size` nodes.
std::vector<int> batch_sizes(const Service& service, int rolling, int group_size);

/// `services` (in AFTER order) as the waves they roll in: a wave's services run at the same
/// time, each after the waves of the services it runs AFTER, never two of one group (one
/// service at a time on a node).
std::vector<std::vector<const Service*>> rollout_waves(const std::vector<const Service*>& services);

/// Runs every service's step in order, services of different groups that do not depend on
/// each other at the same time. `changes` (empty for `up`) says what each node
/// switches to and which services restart there; `on_healthy` is called for each
/// instance that became healthy after a (re)start. Returns false when the rollout
/// stopped on failures (after rolling back).
bool run_rollout(Cluster& cluster, const std::vector<const Service*>& services, ClusterChanges& changes,
                 const HealthOptions& health, const std::function<void(const Service&, NodeSlot&)>& on_healthy);

/// Switches the nodes not switched yet (nothing of theirs restarted, e.g. a unit was
/// only removed), unless the rollout stopped.
void switch_remaining(Cluster& cluster, ClusterChanges& changes);

} // namespace deploy
