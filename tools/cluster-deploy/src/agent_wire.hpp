// The warm-session agent's wire: where its socket lives (a folder only this user can
// open) and the frames client and agent exchange over it. See agent.hpp.
#pragma once

#include "error.hpp"
#include "transport.hpp"

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace deploy {

/// A message: a list of byte strings (the first names what it is).
using Frame = std::vector<std::string>;

/// Writes `frame` to the connected socket `fd`; fails when the peer is gone.
Result<void> write_frame(int fd, const Frame& frame);
/// Reads one frame from `fd`; fails on EOF, a short read or a frame over 256 MiB.
Result<Frame> read_frame(int fd);

/// The frames of one client's conversation, both ways:
///   connect <ConnectOptions fields>   -> ok | error <why>       (first, once)
///   exec <command> <stdin> <timeout>  -> ok <status> <signal> <out> <err> | error <why>
///   exec_input <command> <timeout> (b <bytes> | f <path> <from>)...  -> as exec
///   tcp <port> <request> <timeout>
///   stream <command> <timeout>        -> chunk <data> (answered more | stop)..., then ok <status>
///   release                           -> ok (the session is back in the pool)
Frame connect_frame(const ConnectOptions& options);
Result<ConnectOptions> parse_connect_frame(const Frame& frame);
Frame exec_frame(const Result<ExecResult>& result);
Result<ExecResult> parse_exec_frame(const Frame& frame);
/// Appends `input` to an exec_input frame: "b" and the bytes, or "f", the file's absolute
/// path and the byte it starts from (the agent runs as this user and reads the files itself).
void add_input_parts(Frame& frame, const std::vector<InputPart>& input);
/// The parts from `frame[first]` on (their bytes point into `frame`); none when malformed.
std::optional<std::vector<InputPart>> input_parts(const Frame& frame, std::size_t first);
/// The value of a one-value answer ("ok <value>"), or the failure an "error <why>" names.
Result<std::string> parse_value_frame(const Frame& frame);
/// A timeout field.
Seconds seconds_of(const std::string& field);

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
