// The commands that change nodes: deploy, up, down, clean.
#pragma once

#include "cluster.hpp"
#include "fan_out.hpp"
#include "health.hpp"

#include <map>
#include <string>

namespace deploy {

struct DeployOptions {
  bool dry_run = false;
  HealthOptions health;
  FanOutMode fan_out = FanOutMode::automatic;
};

/// Renders every selected node, stages new releases in parallel, activates them
/// and (re)starts changed services in AFTER order (BOOTSTRAP node first), then
/// waits for health. Returns true when everything succeeded.
bool run_deploy(Cluster& cluster, const std::vector<const Service*>& services,
                std::map<std::string, NodeRelease> releases, const DeployOptions& options);

/// Makes each node's lock (ClusterLock) also read what a deploy of `releases` asks first: the
/// node's state and units, its services' exec probes, the MEMBERS queries it is the first to
/// answer. One round trip fewer per node, and per group with member hooks.
void read_with_lock(Cluster& cluster, const std::map<std::string, NodeRelease>& releases);

/// Returns the nodes to an earlier release already on them (`to`, or the one before
/// `current`), with the same batches and gates as a deploy; nothing is sent. Fails
/// before changing anything when a node has no such release.
bool run_rollback(Cluster& cluster, const std::vector<const Service*>& services, const std::string& to,
                  const HealthOptions& health);

/// Starts services in order and waits for health.
bool run_up(Cluster& cluster, const std::vector<const Service*>& services, const HealthOptions& health);

/// Stops services in reverse order.
bool run_down(Cluster& cluster, const std::vector<const Service*>& services);

/// Stops and removes units and releases; data only with `purge_data`.
bool run_clean(Cluster& cluster, bool purge_data);

} // namespace deploy
