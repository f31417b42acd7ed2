// The selected nodes of a plan and one connection to each, handled in parallel.
#pragma once

#include "error.hpp"
#include "node_ops.hpp"
#include "output.hpp"
#include "plan.hpp"
#include "shared_transport.hpp"

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace deploy {

/// Which part of the cluster a command acts on; empty lists mean "all".
struct Selection {
  std::vector<std::string> groups;
  std::vector<std::string> nodes;
  std::vector<std::string> services;
  /// Also the nodes whose group runs no service (deploy and clean retire what an earlier
  /// plan left there).
  bool idle_nodes = false;
};

/// Opens a Transport to a node; tests inject fakes here.
using Connector = std::function<Result<std::unique_ptr<Transport>>(const Plan&, const Node&)>;

/// The real connector: libssh with the plan's ssh settings and the node's port/user.
Connector ssh_connector();
/// The same sessions, lent by the warm-session agent at `socket` (agent.hpp).
Connector agent_connector(const std::filesystem::path& socket);

/// The nodes picked by `selection` (checked: unknown names are errors).
Result<std::vector<const Node*>> select_nodes(const Plan& plan, const Selection& selection);
/// The services picked by `selection`, in start order.
Result<std::vector<const Service*>> select_services(const Plan& plan, const Selection& selection);

/// One node and its connection (or why there is none).
struct NodeSlot {
  const Node* node = nullptr;
  std::unique_ptr<SharedTransport> transport; ///< shared by the run's steps and the lock's renewer
  std::optional<NodeOps> ops;
  std::string failure; ///< set once anything failed on this node

  bool alive() const { return ops.has_value() && failure.empty(); }
};

class Cluster {
public:
  Cluster(const Plan& plan, std::vector<const Node*> nodes, Output& output, int parallel);

  /// Connects to every node in parallel; an unreachable node is marked failed and
  /// reported, the others go on.
  void connect(const Connector& connector);
  /// Connects to a node that is not in this run (a member that left the inventory) the way
  /// connect() did.
  Result<std::unique_ptr<Transport>> connect_other(const Node& node) const;
  /// Runs `task` on every alive slot, in parallel (bounded by `parallel`, or by the
  /// cluster's limit when 0).
  void for_each_alive(const std::function<void(NodeSlot&)>& task, int parallel = 0);
  /// Runs `task` on the alive slots among `slots`, in parallel (bounded).
  void for_each_of(const std::vector<NodeSlot*>& slots, const std::function<void(NodeSlot&)>& task);
  /// Runs `first` on the alive slots among `slots` (bounded, as for_each_of) and `then` on each
  /// as soon as its `first` has ended, on threads of their own (bounded alike): a node's `then`
  /// never holds up another node's `first`.
  void for_each_then(const std::vector<NodeSlot*>& slots, const std::function<void(NodeSlot&)>& first,
                     const std::function<void(NodeSlot&)>& then);
  /// Runs `task` on the alive slots of `group`, in parallel (bounded).
  void for_each_in_group(const std::string& group, const std::function<void(NodeSlot&)>& task);
  NodeSlot* find(const std::string& node);
  std::vector<NodeSlot>& slots() { return m_slots; }
  const Plan& plan() const { return m_plan; }
  /// How many nodes are worked on at once.
  int parallel() const { return m_parallel; }
  Output& output() { return m_output; }

  /// Marks the slot failed, prints the reason and adds a summary row.
  void mark_failed(NodeSlot& slot, const std::string& service, const std::string& step, const std::string& why,
                   double seconds);

private:
  /// Runs `task` on `slots` in parallel and keeps the live status line's node counts.
  void run_tracked(const std::vector<NodeSlot*>& slots, int parallel, const std::function<void(NodeSlot&)>& task);

  const Plan& m_plan;
  std::vector<NodeSlot> m_slots;
  Output& m_output;
  int m_parallel;
  Connector m_connector;
};

} // namespace deploy
