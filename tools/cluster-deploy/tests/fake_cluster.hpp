// A cluster of fake nodes for orchestration tests: one FakeNode per inventory node.
#pragma once

#include "cluster.hpp"
#include "fake_transport.hpp"

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace deploy::testing {

/// Fake nodes by name; `unreachable` nodes fail to connect.
struct FakeCluster {
  std::map<std::string, FakeNode> nodes;
  std::set<std::string> unreachable;
  std::vector<std::string> order; ///< systemctl start/restart/stop across nodes, in order

  Connector connector()
  {
    return [this](const Plan&, const Node& node) -> Result<std::unique_ptr<Transport>> {
      if (unreachable.count(node.name)) {
        return fail(node.address + ": connection refused");
      }
      nodes[node.name].name = node.name;
      nodes[node.name].order = &order;
      return std::unique_ptr<Transport>(new FakeTransport(nodes[node.name]));
    };
  }
};

} // namespace deploy::testing
