// The one seam between the helper and the network: everything done on a node goes
// through a Transport. LibsshTransport talks to a real sshd; tests use FakeTransport.
#pragma once

#include "error.hpp"
#include "host_key_policy.hpp"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace deploy {

using Seconds = std::chrono::seconds;

/// What a remote command did.
struct ExecResult {
  int exit_status = -1;    ///< -1 when the command was killed by a signal.
  std::string exit_signal; ///< e.g. "KILL" when killed by a signal, else empty.
  std::string out;
  std::string err;

  bool succeeded() const { return exit_status == 0; }
};

/// One part of a command's standard input: `bytes`, or the contents of `file` from byte
/// `from` on when `file` is set.
struct InputPart {
  InputPart(std::string_view bytes) : bytes(bytes) {} // NOLINT(google-explicit-constructor): bytes are one kind
  InputPart(std::filesystem::path file, std::uint64_t from) : file(std::move(file)), from(from) {}
  std::string_view bytes;
  std::filesystem::path file;
  std::uint64_t from = 0;
};

/// Called with each chunk of stdout of a streaming command; return false to stop.
using ChunkSink = std::function<bool(std::string_view chunk)>;

/// A connection to one node. Not thread-safe: one Transport per worker thread.
class Transport {
public:
  virtual ~Transport() = default;

  /// Runs `command` through the node's login shell, writes `stdin_data` to its
  /// standard input followed by EOF, and collects stdout, stderr and exit status.
  /// Fails (as a value) only when the transport itself fails or `timeout` passes.
  /// `timeout` (zero: none) starts again whenever input is sent: the command gets
  /// `timeout` after its last byte of input, and sending fails only if the node
  /// takes none of it for `timeout`. A timed-out command is killed.
  virtual Result<ExecResult> exec(const std::string& command, std::string_view stdin_data, Seconds timeout) = 0;

  /// Like exec(), but streams the parts of `input` one after the other as standard input,
  /// each file read as it is sent (uploads: several files in one round trip; `from` > 0
  /// resumes one). Data is pipelined through the channel window.
  virtual Result<ExecResult> exec_with_input(const std::string& command, const std::vector<InputPart>& input,
                                             Seconds timeout) = 0;

  /// Runs `command` and passes its stdout to `sink` as it arrives, until the
  /// command ends or `sink` returns false. Returns the exit status (-1 when the
  /// sink stopped it); `timeout` (zero: no limit) fails it as in exec().
  virtual Result<int> exec_streaming(const std::string& command, const ChunkSink& sink, Seconds timeout) = 0;

  /// Opens a TCP connection from the node to its own 127.0.0.1:`port`
  /// (an SSH direct-tcpip channel, so it works when the port is firewalled),
  /// writes `request` and returns everything read until EOF or `timeout`.
  /// An empty `request` only checks that the port accepts connections.
  virtual Result<std::string> tcp_request(int port, std::string_view request, Seconds timeout) = 0;
};

struct ConnectOptions {
  std::string host;                  ///< inventory address or ssh_config Host alias
  int port = 0;                      ///< 0: from ssh_config or 22
  std::string user;                  ///< empty: from ssh_config or the local user
  std::filesystem::path ssh_config;  ///< empty: ~/.ssh/config then /etc/ssh/ssh_config
  std::filesystem::path known_hosts; ///< empty: from ssh_config or ~/.ssh/known_hosts
  std::filesystem::path identity;    ///< empty: agent and default keys / ssh_config
  HostKeyPolicy host_key_policy = HostKeyPolicy::strict;
  Seconds connect_timeout{10};
};

/// Opens an authenticated SSH session (libssh). Never prompts.
Result<std::unique_ptr<Transport>> connect_ssh(const ConnectOptions& options);

} // namespace deploy
