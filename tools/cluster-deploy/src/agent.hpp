// The warm-session agent (`deploy --warm SECONDS`): a process of this user that keeps the
// SSH sessions to the nodes open between command runs, as OpenSSH's ControlPersist does,
// and runs each Transport call it is sent on them. It listens on a socket in a folder only
// this user can open (agent_wire.hpp), checks each client's uid, and exits after `idle`
// with no client. A session goes back to the pool only when its client ended in order
// (a client that dies mid-run takes its session, and so the node's lock, with it), and is
// checked with one `true` before it is lent again; a change to the ssh_config or
// known_hosts file makes new sessions.
#pragma once

#include "error.hpp"
#include "agent_wire.hpp"
#include "transport.hpp"

#include <filesystem>
#include <functional>
#include <memory>

namespace deploy {

/// Opens a session: connect_ssh in production, fakes in tests.
using SessionOpener = std::function<Result<std::unique_ptr<Transport>>(const ConnectOptions&)>;

/// Serves clients on `socket` until `idle` passes with none connected. Returns 0, or 1
/// when the socket cannot be served (another agent has it: not an error for the caller).
int run_agent(const std::filesystem::path& socket, Seconds idle, const SessionOpener& open);

} // namespace deploy
