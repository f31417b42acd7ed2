// The client side of the warm-session agent (agent.hpp): starting it when none runs, and a
// Transport whose calls run on the agent's session to a node.
#pragma once

#include "error.hpp"
#include "transport.hpp"

#include <filesystem>
#include <memory>

namespace deploy {

/// The socket of this user's agent for this helper; starts the agent (`<exe> agent`, idle
/// for `idle` before it exits) when none answers there. Every wait is bounded.
Result<std::filesystem::path> ensure_agent(Seconds idle);

/// A Transport to the node `options` describe, on a session the agent at `socket` lends
/// (kept warm from an earlier run, or opened now with the same checks as connect_ssh).
Result<std::unique_ptr<Transport>> connect_via_agent(const std::filesystem::path& socket, const ConnectOptions& options);

} // namespace deploy
