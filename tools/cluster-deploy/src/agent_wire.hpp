// The warm-session agent's wire: where its socket lives (a folder only this user can
// open) and the frames client and agent exchange over it. See agent.hpp.
#pragma once

#include "error.hpp"

#include <filesystem>
#include <string>
#include <vector>

namespace deploy {

/// A message: a list of byte strings (the first names what it is).
using Frame = std::vector<std::string>;

/// Writes `frame` to the connected socket `fd`; fails when the peer is gone.
Result<void> write_frame(int fd, const Frame& frame);
/// Reads one frame from `fd`; fails on EOF, a short read or a frame over 256 MiB.
Result<Frame> read_frame(int fd);

/// The folder of this user's agent sockets: $XDG_RUNTIME_DIR/cluster-deploy, else
/// /tmp/cluster-deploy-<uid>. Created 0700 when missing; refused unless it is a real
/// folder of this user that nobody else can open.
Result<std::filesystem::path> agent_dir();

/// The socket of the agent for this very build of the helper (`exe` identifies it), so a
/// rebuilt helper never talks to an agent of an older one.
Result<std::filesystem::path> agent_socket(const std::filesystem::path& exe);

/// Connects to the agent's socket; fails if none listens there.
Result<int> connect_agent(const std::filesystem::path& socket);

} // namespace deploy
