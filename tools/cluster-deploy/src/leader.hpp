// Who leads a service's group: the service's LEADER query, asked on one of its nodes.
#pragma once

#include "cluster.hpp"
#include "error.hpp"
#include "plan.hpp"

#include <string_view>

namespace deploy {

/// The node of `service`'s group that `answer` (the LEADER query's output) names,
/// by node name or address; fails when it names none.
Result<const Node*> leader_from_answer(const Plan& plan, const Service& service, std::string_view answer);

/// Runs the LEADER query of `service` on its group's reachable nodes in turn until
/// one answers with a node of the group. Fails when the service has no LEADER query
/// or no node answers.
Result<const Node*> query_leader(Cluster& cluster, const Service& service);

} // namespace deploy
