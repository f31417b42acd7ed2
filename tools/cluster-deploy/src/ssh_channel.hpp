// Commands and TCP connections on channels of a libssh session: the RAII channel and
// the one recipe that runs a command (writes its stdin or a file, reads stdout and
// stderr, returns its exit status or signal).
//
// One event loop (ssh_channel.cpp) drives every channel: it writes input only as far
// as the remote window allows, drains stdout/stderr without blocking and otherwise
// waits in ssh_event_dopoll() for the next packet. That keeps big uploads pipelined,
// never deadlocks on a full window, and honours the timeout (libssh's own blocking
// writes and ssh_channel_get_exit_status() can wait forever).
//
// The timeout (zero: none) is one rule for every call: it bounds each wait, counted
// from the start and started again each time input is taken. So a command gets
// `timeout` after its last byte of input to finish (from the start, with no input),
// and an upload of any size fails only when the node took none of it for `timeout`.
// Output does not restart it: a command that never stops writing still times out.
// When it passes, the command is stopped (see exec_command), its channel closed, and
// the call fails with "<host>: command timed out after <n>s...: <command>".
// tcp_exchange alone returns what it read by then: it reads "until EOF or timeout".
#pragma once

#include "ssh_session.hpp"

#include <libssh/callbacks.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace deploy::ssh_detail {

/// How a command ended: exit-status or exit-signal.
struct ExitState {
  bool status_known = false;
  int status = -1;    ///< -1 when killed by a signal
  std::string signal; ///< e.g. "KILL", else empty
  bool known() const { return status_known || !signal.empty(); }
};

/// Closes (if open) and frees a channel.
struct ChannelDeleter {
  void operator()(ssh_channel channel) const;
};
using ChannelPtr = std::unique_ptr<ssh_channel_struct, ChannelDeleter>;

/// A channel of a session with exit-state callbacks (their address must stay fixed,
/// so a Channel is neither copied nor moved). Closed and freed with the object.
class Channel {
public:
  explicit Channel(ssh_session session);
  ~Channel();
  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;

  ssh_channel get() const { return m_channel.get(); }
  ssh_session session() const { return m_session; }
  bool valid() const { return m_channel != nullptr; }
  /// What the callbacks have seen so far.
  const ExitState& callback_exit_state() const { return m_exit; }
  /// The exit state of a finished command: the one place that asks libssh.
  ExitState exit_state() const;

private:
  ssh_session m_session;
  ChannelPtr m_channel;
  ssh_channel_callbacks_struct m_callbacks{};
  ExitState m_exit;
};

/// Receives output; `is_stderr` tells the stream. Return false to stop the command.
using OutputFn = std::function<bool(std::string_view chunk, bool is_stderr)>;


/// The end of a command that ran to its end or was stopped by its OutputFn.
struct CommandEnd {
  bool stopped = false; ///< the OutputFn returned false; `exit` is unknown
  ExitState exit;
};

/// How much of a channel's remote window an upload uses. A node's sshd keeps what arrived
/// and its command has not read yet in a buffer that grows by copying itself (OpenSSH's
/// sshbuf: recallocarray) up to the whole window, 2 MiB: on a busy node that cost its sshd
/// about 0.9 s of CPU per upload, where one kept to 256 KiB in flight cost 0.05 s
/// (docs/benchmarks.md). OpenSSH adjusts the window each time its command has read 96 KiB;
/// a server that waits for more (held back for `patience` and never adjusted yet) gets the
/// whole window from then on. One that has adjusted is only waited for: its command is slow.
class SendPacing {
public:
  using Clock = std::chrono::steady_clock;
  SendPacing(std::uint32_t limit, Clock::duration patience) : m_limit(limit), m_patience(patience) {}
  /// How many bytes to send now, with `window` left of the remote window.
  std::uint32_t room(std::uint32_t window, Clock::time_point now);
  /// `bytes` of that room went out: a window larger next time is the server's adjust.
  void sent(std::uint32_t bytes);

private:
  std::uint32_t m_limit;
  Clock::duration m_patience;
  std::uint32_t m_window_max = 0;
  std::optional<std::uint32_t> m_last_window;
  bool m_adjusted = false; ///< the window grew again at least once
  bool m_whole_window = false;
  std::optional<Clock::time_point> m_held_since;
};

/// The bytes in flight a connection with round-trip time `rtt` needs for 100 MB/s, and at
/// least 256 KiB: a LAN or the local cluster gets 256 KiB, 20 ms and more the whole window,
/// as does a connection whose round trip is unknown (a ProxyCommand's pipe).
std::uint32_t in_flight_limit(std::optional<std::chrono::microseconds> rtt);

/// The kernel's smoothed round-trip time of the session's TCP connection, if it is one.
std::optional<std::chrono::microseconds> connection_rtt(ssh_session session);

/// Runs `command` on a new channel of `session` (through the login shell), sends the
/// parts of `input` followed by EOF and passes stdout and stderr to `output`. On the timeout
/// (see above) or a stop by `output`, the command is killed: with an exit-signal
/// request, and, because sshd refuses those to root logins, by killing the process
/// groups of the other sessions on this connection from a fresh channel (calls on a
/// session never overlap, so those are only the abandoned commands). Fails naming
/// `host` when the connection breaks or the command ends without an exit state.
Result<CommandEnd> exec_command(ssh_session session, const std::string& host, const std::string& command,
                                const std::vector<InputPart>& input, const OutputFn& output, Seconds timeout);

/// Opens a TCP connection from the node to its own 127.0.0.1:`port`, writes `request`
/// (no EOF after it: a half-close makes some HTTP servers cancel the request) and
/// returns what it reads until EOF or the timeout. An empty request only connects.
Result<std::string> tcp_exchange(ssh_session session, const std::string& host, int port, std::string_view request,
                                 Seconds timeout);

} // namespace deploy::ssh_detail
