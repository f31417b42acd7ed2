// A cluster of fake nodes for orchestration tests: one FakeNode per inventory node.
#pragma once

#include "cluster.hpp"
#include "cluster_lock.hpp"
#include "deploy.hpp"
#include "fake_transport.hpp"
#include "release.hpp"
#include "test_support.hpp"

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace deploy::testing {

/// Fake nodes by name; `unreachable` nodes fail to connect.
struct FakeCluster {
  std::map<std::string, FakeNode> nodes;
  std::set<std::string> unreachable;
  std::vector<std::string> order; ///< systemctl start/restart/stop across nodes, in order
  std::mutex connecting;          ///< a Cluster connects its nodes in parallel: one map insert at a time

  Connector connector()
  {
    return [this](const Plan&, const Node& node) -> Result<std::unique_ptr<Transport>> {
      if (unreachable.count(node.name)) {
        return fail(node.address + ": connection refused");
      }
      std::lock_guard lock(connecting);
      FakeNode& fake = nodes[node.name];
      fake.name = node.name;
      fake.order = &order;
      return std::unique_ptr<Transport>(new FakeTransport(fake));
    };
  }
};

/// A Cluster of `nodes` connected to `fakes`, with its own Output: what one command run sees.
struct FakeRun {
  FakeRun(const Plan& plan, FakeCluster& fakes, std::vector<const Node*> nodes, Format format = Format::text)
      : output(Color::never, format), cluster(plan, std::move(nodes), output, 4)
  {
    cluster.connect(fakes.connector());
  }
  Output output;
  Cluster cluster;
};

/// Deploys every service to every node of `plan` on `fakes` (health checks with a settle window
/// of `settle`: none by default).
inline bool deploy_everything(const Plan& plan, FakeCluster& fakes, Output& output, Seconds settle = Seconds{0})
{
  auto all = everything(plan);
  Cluster cluster(plan, all.nodes, output, 4);
  cluster.connect(fakes.connector());
  return run_deploy(cluster, all.services, render_releases(plan, all.nodes),
                    DeployOptions{false, HealthOptions{Seconds{5}, settle}});
}

/// As deploy_everything, the way the CLI runs a deploy: every node's lock taken first, reading
/// what the deploy asks first (read_with_lock). False also when a lock was not taken.
inline bool deploy_everything_locked(const Plan& plan, FakeCluster& fakes, Output& output,
                                     Seconds health = Seconds{5})
{
  auto all = everything(plan);
  auto releases = render_releases(plan, all.nodes);
  Cluster cluster(plan, all.nodes, output, 4);
  cluster.connect(fakes.connector());
  read_with_lock(cluster, releases);
  ClusterLock lock(cluster, "deploy", Seconds{0});
  return lock.held() &&
         run_deploy(cluster, all.services, releases, DeployOptions{false, HealthOptions{health, Seconds{0}}});
}

} // namespace deploy::testing
