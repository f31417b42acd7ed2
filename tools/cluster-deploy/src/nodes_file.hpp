// The node lists the helper leaves in the plan's output folder for tests, scripts and
// the next run: which nodes the inventory has, and which left it with something of ours.
#pragma once

#include "error.hpp"
#include "plan.hpp"

#include <string>
#include <vector>

namespace deploy {

/// Writes <output>/nodes.txt ("name address group" lines) for tests and scripts, and keeps
/// <output>/nodes-left.txt: the nodes ("name address" lines) that were in the inventory of an
/// earlier run and are not now, until they come back. Returns those nodes: what was deployed
/// there still runs, and no command of this plan reaches them any more.
Result<std::vector<std::string>> write_nodes_file(const Plan& plan);

} // namespace deploy
