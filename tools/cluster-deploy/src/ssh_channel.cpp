// Channel I/O over libssh 0.10: the event loop (Pump), the command recipe and the TCP
// exchange. The timeout rule is in ssh_channel.hpp.
#include "ssh_channel.hpp"

#include "remote_scripts.hpp"

#include <spdlog/spdlog.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <fstream>
#include <optional>
#include <vector>

namespace deploy::ssh_detail {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::size_t k_chunk_size = 64 * 1024;
constexpr int k_max_wait_ms = 1000;

constexpr Seconds k_reap_timeout{5};

struct EventDeleter {
  void operator()(ssh_event event) const { ssh_event_free(event); }
};
using EventPtr = std::unique_ptr<ssh_event_struct, EventDeleter>;

/// Adds the session to an event for the lifetime of this object; removing it
/// gives the session back its default poll context for later blocking calls.
class EventScope {
public:
  explicit EventScope(ssh_session session) : m_event(ssh_event_new()), m_session(session)
  {
    if (m_event && ssh_event_add_session(m_event.get(), m_session) != SSH_OK) {
      m_event.reset();
    }
  }
  ~EventScope()
  {
    if (m_event) {
      ssh_event_remove_session(m_event.get(), m_session);
    }
  }
  EventScope(const EventScope&) = delete;
  EventScope& operator=(const EventScope&) = delete;
  ssh_event get() const { return m_event.get(); }

private:
  EventPtr m_event;
  ssh_session m_session;
};

std::string first_chars(const std::string& text, std::size_t n)
{
  return text.size() <= n ? text : text.substr(0, n) + "...";
}

void on_exit_status(ssh_session, ssh_channel, int status, void* userdata)
{
  auto* state = static_cast<ExitState*>(userdata);
  state->status_known = true;
  state->status = status;
}

void on_exit_signal(ssh_session, ssh_channel, const char* signal, int, const char*, const char*, void* userdata)
{
  static_cast<ExitState*>(userdata)->signal = (signal != nullptr && *signal != '\0') ? signal : "UNKNOWN";
}

// --- stdin sources ---------------------------------------------------------------

class Input {
public:
  virtual ~Input() = default;
  /// The next bytes to send; empty at end of input.
  virtual Result<std::string_view> peek() = 0;
  virtual void consume(std::size_t n) = 0;
};

class MemoryInput : public Input {
public:
  explicit MemoryInput(std::string_view data) : m_data(data) {}
  Result<std::string_view> peek() override { return m_data.substr(0, k_chunk_size); }
  void consume(std::size_t n) override { m_data.remove_prefix(n); }

private:
  std::string_view m_data;
};

class FileInput : public Input {
public:
  FileInput(const std::filesystem::path& path, std::uint64_t from)
      : m_stream(path, std::ios::binary), m_path(path.string())
  {
    if (from > 0) {
      m_stream.seekg(static_cast<std::streamoff>(from));
    }
  }
  bool is_open() const { return m_stream.is_open() && m_stream.good(); }
  Result<std::string_view> peek() override
  {
    if (m_pos == m_len && !m_eof) {
      m_stream.read(m_buffer.data(), static_cast<std::streamsize>(m_buffer.size()));
      m_len = static_cast<std::size_t>(m_stream.gcount());
      m_pos = 0;
      if (m_stream.bad()) {
        return fail("cannot read local file " + m_path);
      }
      m_eof = m_len == 0;
    }
    return std::string_view(m_buffer.data() + m_pos, m_len - m_pos);
  }
  void consume(std::size_t n) override { m_pos += n; }

private:
  std::ifstream m_stream;
  std::string m_path;
  std::vector<char> m_buffer = std::vector<char>(k_chunk_size);
  std::size_t m_pos = 0;
  std::size_t m_len = 0;
  bool m_eof = false;
};

/// The parts of a command's input one after the other; each file is opened when its turn comes.
class ChainInput : public Input {
public:
  explicit ChainInput(const std::vector<InputPart>& parts) : m_parts(parts) {}
  Result<std::string_view> peek() override
  {
    while (true) {
      if (!m_current) {
        if (m_next == m_parts.size()) {
          return std::string_view();
        }
        CD_TRY_VOID(open(m_parts[m_next++]));
      }
      CD_TRY(chunk, m_current->peek());
      if (!chunk->empty()) {
        return *chunk;
      }
      m_current.reset();
    }
  }
  void consume(std::size_t n) override { m_current->consume(n); }

private:
  Result<void> open(const InputPart& part)
  {
    if (part.file.empty()) {
      m_current = std::make_unique<MemoryInput>(part.bytes);
      return {};
    }
    auto file = std::make_unique<FileInput>(part.file, part.from);
    if (!file->is_open()) {
      return fail("cannot open local file " + part.file.string());
    }
    m_current = std::move(file);
    return {};
  }

  const std::vector<InputPart>& m_parts;
  std::size_t m_next = 0;
  std::unique_ptr<Input> m_current;
};

// --- the channel event loop -----------------------------------------------------

enum class PumpEnd { finished, timed_out, stopped };

struct PumpSpec {
  Input* input = nullptr; ///< nullptr: nothing to send
  bool send_eof = true;   ///< send EOF after the input (not for TCP requests)
  bool wait_exit = true;  ///< wait for exit-status/exit-signal (commands only)
  Seconds timeout{0};     ///< zero: none; restarted by input progress
};

class Pump {
public:
  Pump(Channel& channel, const std::string& host, const PumpSpec& spec, const OutputFn& output)
      : m_channel(channel), m_host(host), m_spec(spec), m_output(output), m_input_done(spec.input == nullptr)
  {
  }

  Result<PumpEnd> run()
  {
    EventScope event(m_channel.session());
    if (event.get() == nullptr) {
      return fail(m_host + ": cannot create a libssh event: " + libssh_error(m_channel.session()));
    }
    if (m_input_done && m_spec.send_eof) {
      ssh_channel_send_eof(m_channel.get());
    }
    restart_clock();
    while (true) {
      if (m_deadline && Clock::now() >= *m_deadline) {
        return PumpEnd::timed_out; // also when output never pauses (`yes`)
      }
      auto wrote = write_some();
      if (!wrote) {
        return fail(wrote.error());
      }
      if (*wrote) {
        restart_clock();
      }
      auto read = read_available();
      if (!read) {
        return fail(read.error());
      }
      if (m_stopped) {
        return PumpEnd::stopped;
      }
      if (finished()) {
        return drain(); // reading stderr may have queued more stdout along with the EOF
      }
      if (*wrote || *read) {
        continue;
      }
      auto waited = wait(event.get());
      if (!waited) {
        return fail(waited.error());
      }
    }
  }

  /// False when the input was not all sent (the node stopped taking it).
  bool input_done() const { return m_input_done; }

private:
  bool channel_gone() const { return ssh_channel_is_open(m_channel.get()) == 0; }

  void restart_clock()
  {
    if (m_spec.timeout.count() > 0) {
      m_deadline = Clock::now() + m_spec.timeout;
    }
  }

  /// Reads what is still buffered after the end of the command.
  Result<PumpEnd> drain()
  {
    while (!m_stopped) {
      auto read = read_available();
      if (!read) {
        return fail(read.error());
      }
      if (!*read) {
        break;
      }
    }
    return m_stopped ? PumpEnd::stopped : PumpEnd::finished;
  }

  bool finished() const
  {
    const bool drained = ssh_channel_is_eof(m_channel.get()) != 0 || channel_gone();
    if (!drained) {
      return false;
    }
    return !m_spec.wait_exit || m_channel.callback_exit_state().known() || channel_gone();
  }

  /// Sends what the remote window takes now; true if anything happened.
  Result<bool> write_some()
  {
    if (m_input_done) {
      return false;
    }
    if (channel_gone() || ssh_channel_is_eof(m_channel.get()) != 0) {
      m_input_done = true; // the command ended without reading all of its stdin
      return false;
    }
    const uint32_t room = m_pacing.room(ssh_channel_window_size(m_channel.get()), Clock::now());
    if (room == 0) {
      return false;
    }
    auto chunk = m_spec.input->peek();
    if (!chunk) {
      return fail(chunk.error());
    }
    if (chunk->empty()) {
      return finish_input();
    }
    const auto n = static_cast<uint32_t>(std::min<std::size_t>(chunk->size(), room));
    const int rc = ssh_channel_write(m_channel.get(), chunk->data(), n);
    if (rc < 0 && channel_gone()) {
      m_input_done = true; // closed by the server while we were writing
      return false;
    }
    if (rc < 0) {
      return fail(m_host + ": cannot write to the remote command: " + libssh_error(m_channel.session()));
    }
    m_spec.input->consume(static_cast<std::size_t>(rc));
    m_pacing.sent(static_cast<std::uint32_t>(rc));
    return true;
  }

  Result<bool> finish_input()
  {
    m_input_done = true;
    if (m_spec.send_eof && ssh_channel_send_eof(m_channel.get()) != SSH_OK) {
      return fail(m_host + ": cannot send end of input: " + libssh_error(m_channel.session()));
    }
    return true;
  }

  /// Drains stdout and stderr without blocking; true if any data came.
  Result<bool> read_available()
  {
    bool any = false;
    for (const bool is_stderr : {false, true}) {
      while (!m_stopped) {
        const int n = ssh_channel_read_nonblocking(m_channel.get(), m_buffer.data(),
                                                   static_cast<uint32_t>(m_buffer.size()), is_stderr);
        if (n == SSH_ERROR) {
          return fail(m_host + ": cannot read from the remote command: " + libssh_error(m_channel.session()));
        }
        if (n <= 0) {
          break;
        }
        any = true;
        m_stopped = !m_output(std::string_view(m_buffer.data(), static_cast<std::size_t>(n)), is_stderr);
      }
    }
    return any;
  }

  /// Waits for the next packet, at most until the deadline.
  Result<void> wait(ssh_event event)
  {
    int wait_ms = k_max_wait_ms;
    if (m_deadline) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*m_deadline - Clock::now());
      wait_ms = static_cast<int>(std::clamp<long long>(left.count(), 0, k_max_wait_ms));
    }
    if (ssh_event_dopoll(event, wait_ms) == SSH_ERROR) {
      return fail(m_host + ": connection lost: " + libssh_error(m_channel.session()));
    }
    return {};
  }

  Channel& m_channel;
  const std::string& m_host;
  PumpSpec m_spec;
  const OutputFn& m_output;
  bool m_input_done;
  bool m_stopped = false;
  std::optional<Clock::time_point> m_deadline;
  SendPacing m_pacing{in_flight_limit(connection_rtt(m_channel.session())), std::chrono::milliseconds(k_max_wait_ms)};
  std::array<char, k_chunk_size> m_buffer{};
};

// --- commands ---------------------------------------------------------------------

Result<std::unique_ptr<Channel>> open_exec_channel(ssh_session session, const std::string& host,
                                                   const std::string& command)
{
  auto channel = std::make_unique<Channel>(session);
  if (!channel->valid()) {
    return fail(host + ": cannot create a channel: " + libssh_error(session));
  }
  if (ssh_channel_open_session(channel->get()) != SSH_OK) {
    return fail(host + ": cannot open a session channel: " + libssh_error(session));
  }
  if (ssh_channel_request_exec(channel->get(), command.c_str()) != SSH_OK) {
    return fail(host + ": cannot start command '" + first_chars(command, 80) + "': " + libssh_error(session));
  }
  return channel;
}

enum class Reap { yes, no };

Result<CommandEnd> run_command(ssh_session session, const std::string& host, const std::string& command, Input* input,
                               const OutputFn& output, Seconds timeout, Reap reap);

/// After a timeout or a stop: kill the command (see exec_command) and close its channel.
void stop_command(std::unique_ptr<Channel> channel, const std::string& host, Reap reap)
{
  const ssh_session session = channel->session();
  ssh_channel_request_send_signal(channel->get(), "KILL");
  channel.reset();
  if (reap == Reap::no) {
    return;
  }
  const OutputFn ignore = [](std::string_view, bool) { return true; };
  auto reaped = run_command(session, host, remote::reap_sessions.text, nullptr, ignore, k_reap_timeout, Reap::no);
  if (!reaped) {
    spdlog::debug("{}: could not kill the abandoned command: {}", host, reaped.error());
  }
}

Result<CommandEnd> run_command(ssh_session session, const std::string& host, const std::string& command, Input* input,
                               const OutputFn& output, Seconds timeout, Reap reap)
{
  auto channel = open_exec_channel(session, host, command);
  if (!channel) {
    return fail(channel.error());
  }
  PumpSpec spec;
  spec.input = input;
  spec.timeout = timeout;
  Pump pump(**channel, host, spec, output);
  auto end = pump.run();
  if (!end) {
    return fail(end.error());
  }
  if (*end != PumpEnd::finished) {
    stop_command(std::move(*channel), host, reap);
    if (*end == PumpEnd::stopped) {
      return CommandEnd{true, {}};
    }
    const std::string unread = pump.input_done() ? "" : " (the node took none of its input in that time)";
    return fail(host + ": command timed out after " + std::to_string(timeout.count()) + "s" + unread + ": " +
                first_chars(command, 80));
  }
  const ExitState state = (*channel)->exit_state();
  if (!state.known()) {
    return fail(host + ": connection lost while running '" + first_chars(command, 80) +
                "' (no exit status): " + libssh_error(session));
  }
  return CommandEnd{false, state};
}

} // namespace

void ChannelDeleter::operator()(ssh_channel channel) const
{
  if (ssh_channel_is_open(channel) != 0) {
    ssh_channel_close(channel);
  }
  ssh_channel_free(channel);
}

std::uint32_t SendPacing::room(std::uint32_t window, Clock::time_point now)
{
  m_adjusted = m_adjusted || (m_last_window && window > *m_last_window);
  m_last_window = window;
  m_window_max = std::max(m_window_max, window);
  const std::uint32_t in_flight = m_window_max - window;
  if (m_whole_window || window == 0) {
    return window;
  }
  if (in_flight < m_limit) {
    m_held_since.reset();
    return std::min(window, m_limit - in_flight);
  }
  if (!m_held_since) {
    m_held_since = now;
  } else if (!m_adjusted && now - *m_held_since >= m_patience) {
    m_whole_window = true; // it never adjusted below our limit: it waits for more
    return window;
  }
  return 0;
}

void SendPacing::sent(std::uint32_t bytes)
{
  if (m_last_window) {
    *m_last_window -= std::min(bytes, *m_last_window);
  }
}

std::uint32_t in_flight_limit(std::optional<std::chrono::microseconds> rtt)
{
  constexpr std::uint64_t k_least = 256 * 1024;
  constexpr std::uint64_t k_bytes_per_second = 100'000'000;
  if (!rtt) {
    return UINT32_MAX;
  }
  const auto micros = static_cast<std::uint64_t>(std::max<std::int64_t>(rtt->count(), 0));
  return static_cast<std::uint32_t>(std::clamp<std::uint64_t>(micros * k_bytes_per_second / 1'000'000, k_least, UINT32_MAX));
}

std::optional<std::chrono::microseconds> connection_rtt(ssh_session session)
{
  tcp_info info{};
  socklen_t size = sizeof(info);
  const socket_t fd = ssh_get_fd(session);
  if (fd < 0 || getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &size) != 0) {
    return std::nullopt; // not a TCP socket: a ProxyCommand's pipe
  }
  return std::chrono::microseconds{info.tcpi_rtt};
}

Channel::Channel(ssh_session session) : m_session(session), m_channel(ssh_channel_new(session))
{
  ssh_callbacks_init(&m_callbacks);
  m_callbacks.userdata = &m_exit;
  m_callbacks.channel_exit_status_function = on_exit_status;
  m_callbacks.channel_exit_signal_function = on_exit_signal;
  if (m_channel) {
    ssh_set_channel_callbacks(m_channel.get(), &m_callbacks);
  }
}

Channel::~Channel()
{
  // libssh frees a closed channel only when the server's CLOSE arrives, maybe
  // after we are gone: it must not call back into this object then.
  if (m_channel) {
    ssh_remove_channel_callbacks(m_channel.get(), &m_callbacks);
  }
}

// libssh 0.11: replace with ssh_channel_get_exit_state(channel, &status, &signal, &core).
ExitState Channel::exit_state() const
{
  ExitState state = m_exit;
  if (!state.known() && ssh_channel_is_closed(m_channel.get()) != 0) {
    // Closed: returns at once instead of waiting for a status that may never come.
    const int status = ssh_channel_get_exit_status(m_channel.get());
    state.status_known = status != -1;
    state.status = status;
  }
  if (!state.signal.empty()) {
    state.status = -1;
  }
  return state;
}

Result<CommandEnd> exec_command(ssh_session session, const std::string& host, const std::string& command,
                                const std::vector<InputPart>& input, const OutputFn& output, Seconds timeout)
{
  for (const auto& part : input) { // before the command starts: a missing file is the caller's error
    if (!part.file.empty() && !std::filesystem::is_regular_file(part.file)) {
      return fail("cannot open local file " + part.file.string() + " to send to " + host);
    }
  }
  ChainInput chain(input);
  return run_command(session, host, command, &chain, output, timeout, Reap::yes);
}

Result<std::string> tcp_exchange(ssh_session session, const std::string& host, int port, std::string_view request,
                                 Seconds timeout)
{
  Channel channel(session);
  if (!channel.valid()) {
    return fail(host + ": cannot create a channel: " + libssh_error(session));
  }
  if (ssh_channel_open_forward(channel.get(), "127.0.0.1", port, "127.0.0.1", 0) != SSH_OK) {
    return fail(host + ": nothing accepts connections on port " + std::to_string(port) + ": " + libssh_error(session));
  }
  if (request.empty()) {
    return std::string();
  }
  std::string response;
  const OutputFn output = [&](std::string_view chunk, bool is_stderr) {
    if (!is_stderr) {
      response.append(chunk);
    }
    return true;
  };
  MemoryInput input(request);
  PumpSpec spec;
  spec.input = &input;
  spec.send_eof = false;
  spec.wait_exit = false;
  spec.timeout = timeout;
  auto end = Pump(channel, host, spec, output).run();
  if (!end) {
    return fail(end.error());
  }
  if (*end == PumpEnd::timed_out) {
    spdlog::debug("{}: tcp request: no end of data after {}s, returning {} bytes", host, timeout.count(),
                  response.size());
  }
  return response;
}

} // namespace deploy::ssh_detail
