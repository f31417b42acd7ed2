// What a service's group says of itself, asked on one of its nodes: who leads it (LEADER),
// whether it is whole (QUORUM) and who its members are (MEMBERS).
#pragma once

#include "cluster.hpp"
#include "error.hpp"
#include "membership.hpp"
#include "plan.hpp"

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace deploy {

/// The node of `service`'s group that `answer` (the LEADER query's output) names,
/// by node name or address; fails when it names none.
Result<const Node*> leader_from_answer(const Plan& plan, const Service& service, std::string_view answer);

/// Runs the LEADER query of `service` on its group's reachable nodes in turn until
/// one answers with a node of the group. Fails when the service has no LEADER query
/// or no node answers.
Result<const Node*> query_leader(Cluster& cluster, const Service& service);

/// The LEADER query's answer as printed (first line, trimmed), from the first node of the
/// group that answers: also a leader no node of the inventory is (a member leaving it).
Result<std::string> query_leader_name(Cluster& cluster, const Service& service);

/// The group's QUORUM check (is every member up and caught up?) on its first reachable node:
/// passes when it exits 0, or when the service has none; else says why. With `wait`, tried
/// every second until it passes or that long has gone by (or the run is interrupted).
Result<void> check_quorum(Cluster& cluster, const Service& service, Seconds wait = Seconds{0});

/// The MEMBERS queries ("MEMBERS <service>" -> its command, expanded for `node`) of the
/// services of the plan whose group `node` is the first of: NodeOps::read_with_lock runs them
/// with the lock (NodeOps::snapshot with status's read), and ask_members takes that answer, so
/// that a deploy's or status's question to the group costs no round trip of its own.
std::map<std::string, std::string> members_asks(const Plan& plan, const Node& node);
/// The name members_asks gives `service`'s MEMBERS query.
std::string members_ask(const std::string& service);

/// Asks MEMBERS on the group's nodes: the first that answers, and its answer. nullopt
/// (and *why) when none does.
std::optional<std::pair<std::string, std::vector<Member>>> ask_members(Cluster& cluster, const Service& service,
                                                                       std::string* why);

} // namespace deploy
