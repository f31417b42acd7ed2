// LibsshTransport: the Transport over libssh 0.10 (blocking session, one per thread).
// Channel I/O lives in ssh_transport.hpp (Pump); this file sets up the session,
// checks host keys, authenticates and maps the Transport calls onto channels.
#include "ssh_transport.hpp"

#include "ssh_config_warnings.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <sstream>
#include <vector>

namespace deploy {
namespace {

using namespace ssh_detail;

// libssh 0.10's own default order, with curve25519 explicitly first: it is about
// half the client CPU of the alternatives. A KexAlgorithms line in ssh_config wins.
constexpr const char* k_key_exchange =
    "curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,ecdh-sha2-nistp384,"
    "ecdh-sha2-nistp521,diffie-hellman-group18-sha512,diffie-hellman-group16-sha512,"
    "diffie-hellman-group-exchange-sha256,diffie-hellman-group14-sha256";

// --- logging (libssh's callback and level are thread-local) -------------------

thread_local std::string t_log_host;
thread_local std::vector<std::string>* t_config_messages = nullptr; ///< set while parsing ssh_config

void forward_libssh_log(int /*priority*/, const char* /*function*/, const char* buffer, void* /*userdata*/)
{
  if (t_config_messages != nullptr && buffer != nullptr) {
    t_config_messages->emplace_back(buffer);
  }
  spdlog::debug("{}: libssh: {}", t_log_host, buffer != nullptr ? buffer : "");
}

std::string read_text(const std::filesystem::path& file)
{
  std::ifstream in(file);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

/// Parses the ssh_config like ssh_options_parse_config, applies IdentitiesOnly (which
/// libssh ignores: with it, the agent is not asked, only the IdentityFile keys are
/// offered), and warns once per run about the other options libssh reads but
/// ignores: it says so only in its log, at protocol level.
int parse_config_checked(ssh_session session, const std::string& host, const std::string& config)
{
  std::vector<std::string> messages;
  const int level = ssh_get_log_level();
  ssh_set_log_level(std::max(level, static_cast<int>(SSH_LOG_PROTOCOL)));
  t_config_messages = &messages;
  const int rc = ssh_options_parse_config(session, config.empty() ? nullptr : config.c_str());
  t_config_messages = nullptr;
  ssh_set_log_level(level);
  const char* home = std::getenv("HOME");
  const std::string text = !config.empty()   ? read_text(config)
                           : home != nullptr ? read_text(std::filesystem::path(home) / ".ssh/config")
                                             : std::string();
  for (const auto& message : messages) {
    if (auto option = parse_libssh_config_message(message); option && !handled_by_helper(*option, text)) {
      warn_once(*option, config);
    }
  }
  char* proxy = nullptr;
  if (rc == SSH_OK && ssh_options_get(session, SSH_OPTIONS_PROXYCOMMAND, &proxy) == SSH_OK && proxy != nullptr) {
    const std::string command = proxy;
    ssh_string_free_char(proxy);
    const std::string with_config = proxy_jump_with_config(command, config);
    if (with_config != command && ssh_options_set(session, SSH_OPTIONS_PROXYCOMMAND, with_config.c_str()) != SSH_OK) {
      return SSH_ERROR;
    }
    spdlog::debug("{}: proxy command: {}", host, with_config);
  }
  if (rc == SSH_OK && identities_only_for(text, host).value_or(false)) {
    // No agent: libssh then offers only the IdentityFile keys, as IdentitiesOnly means.
    if (ssh_options_set(session, SSH_OPTIONS_IDENTITY_AGENT, "/dev/null") != SSH_OK) {
      return SSH_ERROR;
    }
    spdlog::debug("{}: IdentitiesOnly yes: not using ssh-agent", host);
  }
  return rc;
}

void route_libssh_logs(const std::string& host)
{
  t_log_host = host;
  ssh_set_log_callback(forward_libssh_log);
  const auto level = spdlog::get_level();
  if (level <= spdlog::level::trace) {
    ssh_set_log_level(SSH_LOG_FUNCTIONS);
  } else if (level <= spdlog::level::debug) {
    ssh_set_log_level(SSH_LOG_PROTOCOL);
  } else {
    ssh_set_log_level(SSH_LOG_WARN);
  }
}

std::string first_chars(const std::string& text, std::size_t n)
{
  return text.size() <= n ? text : text.substr(0, n) + "...";
}
// --- host keys -------------------------------------------------------------------

std::mutex g_known_hosts_mutex;

Result<std::string> server_fingerprint(ssh_session session, const std::string& host)
{
  ssh_key raw_key = nullptr;
  if (ssh_get_server_publickey(session, &raw_key) != SSH_OK) {
    return fail(host + ": cannot get the server's host key: " + libssh_error(session));
  }
  KeyPtr key(raw_key);
  unsigned char* raw_hash = nullptr;
  size_t hash_len = 0;
  if (ssh_get_publickey_hash(key.get(), SSH_PUBLICKEY_HASH_SHA256, &raw_hash, &hash_len) != SSH_OK) {
    return fail(host + ": cannot hash the server's host key: " + libssh_error(session));
  }
  HashPtr hash(raw_hash);
  CharPtr text(ssh_get_fingerprint_hash(SSH_PUBLICKEY_HASH_SHA256, hash.get(), hash_len));
  if (!text) {
    return fail(host + ": cannot format the server's host key fingerprint");
  }
  return std::string(text.get());
}

std::string known_hosts_path(ssh_session session)
{
  char* raw = nullptr;
  if (ssh_options_get(session, SSH_OPTIONS_KNOWNHOSTS, &raw) == SSH_OK && raw != nullptr) {
    CharPtr path(raw);
    return path.get();
  }
  return "~/.ssh/known_hosts";
}

Result<void> accept_new_host_key(ssh_session session, const std::string& host, const std::string& fingerprint)
{
  std::lock_guard<std::mutex> lock(g_known_hosts_mutex);
  if (ssh_session_is_known_server(session) == SSH_KNOWN_HOSTS_OK) {
    return {}; // another thread recorded the same host while we waited
  }
  if (ssh_session_update_known_hosts(session) != SSH_OK) {
    return fail(host + ": cannot record the host key (" + fingerprint + ") in " + known_hosts_path(session) + ": " +
                libssh_error(session));
  }
  spdlog::info("{}: accepted new host key {} (recorded in {})", host, fingerprint, known_hosts_path(session));
  return {};
}

Result<void> verify_host_key(ssh_session session, const std::string& host, HostKeyPolicy policy)
{
  const ssh_known_hosts_e state = ssh_session_is_known_server(session);
  if (state == SSH_KNOWN_HOSTS_OK) {
    return {};
  }
  if (state == SSH_KNOWN_HOSTS_ERROR) {
    return fail(host + ": cannot check the host key: " + libssh_error(session));
  }
  auto fingerprint = server_fingerprint(session, host);
  if (!fingerprint) {
    return fail(fingerprint.error());
  }
  if (state == SSH_KNOWN_HOSTS_CHANGED || state == SSH_KNOWN_HOSTS_OTHER) {
    return fail("host key for " + host + " has CHANGED (server's key " + *fingerprint +
                "): refusing to connect; if this is expected, remove the old key from " + known_hosts_path(session));
  }
  if (policy == HostKeyPolicy::accept_new) {
    return accept_new_host_key(session, host, *fingerprint);
  }
  return fail("host key for " + host + " is not known (" + *fingerprint + "): add it to " + known_hosts_path(session) +
              " (e.g. ssh-keyscan) or use the accept-new host key policy");
}

// --- authentication ----------------------------------------------------------------

std::string allowed_methods(ssh_session session)
{
  const int methods = ssh_userauth_list(session, nullptr);
  static const std::pair<int, const char*> k_names[] = {{SSH_AUTH_METHOD_PUBLICKEY, "publickey"},
                                                        {SSH_AUTH_METHOD_PASSWORD, "password"},
                                                        {SSH_AUTH_METHOD_INTERACTIVE, "keyboard-interactive"},
                                                        {SSH_AUTH_METHOD_HOSTBASED, "hostbased"},
                                                        {SSH_AUTH_METHOD_GSSAPI_MIC, "gssapi-with-mic"}};
  std::string text;
  for (const auto& [bit, name] : k_names) {
    if ((methods & bit) != 0) {
      text += text.empty() ? name : std::string(",") + name;
    }
  }
  return text.empty() ? "unknown" : text;
}

std::string session_user(ssh_session session)
{
  char* raw = nullptr;
  if (ssh_options_get(session, SSH_OPTIONS_USER, &raw) == SSH_OK && raw != nullptr) {
    CharPtr user(raw);
    return user.get();
  }
  return "?";
}

/// Agent, then identity files; never a password or a prompt.
Result<void> authenticate(ssh_session session, const std::string& host)
{
  int rc = ssh_userauth_none(session, nullptr);
  if (rc == SSH_AUTH_SUCCESS) {
    return {};
  }
  if (rc != SSH_AUTH_ERROR) {
    rc = ssh_userauth_publickey_auto(session, nullptr, nullptr);
  }
  if (rc == SSH_AUTH_SUCCESS) {
    return {};
  }
  return fail("authentication failed for " + session_user(session) + "@" + host +
              " (server allows: " + allowed_methods(session) + "): " + libssh_error(session));
}

// --- session setup ---------------------------------------------------------------------

Result<void> set_option(ssh_session session, const std::string& host, ssh_options_e option, const void* value,
                        const char* what)
{
  if (ssh_options_set(session, option, value) != SSH_OK) {
    return fail(host + ": cannot set ssh option " + what + ": " + libssh_error(session));
  }
  return {};
}

Result<void> apply_file_options(ssh_session session, const ConnectOptions& options)
{
  const std::string& host = options.host;
  Result<void> rc;
  if (!options.known_hosts.empty()) {
    rc = set_option(session, host, SSH_OPTIONS_KNOWNHOSTS, options.known_hosts.c_str(), "known-hosts");
  }
  if (rc && !options.identity.empty()) {
    rc = set_option(session, host, SSH_OPTIONS_ADD_IDENTITY, options.identity.c_str(), "identity");
  }
  // Small packets (requests, window adjusts, EOF) should not wait for Nagle; bulk upload
  // throughput was measured the same with and without it.
  const int nodelay = 1;
  if (rc) {
    rc = set_option(session, host, SSH_OPTIONS_NODELAY, &nodelay, "nodelay");
  }
  const long timeout = static_cast<long>(options.connect_timeout.count());
  if (rc && timeout > 0) {
    rc = set_option(session, host, SSH_OPTIONS_TIMEOUT, &timeout, "timeout");
  }
  return rc;
}

/// Config files first, then the inventory's explicit values win (facts §3.1).
Result<void> apply_options(ssh_session session, const ConnectOptions& options)
{
  const std::string& host = options.host;
  auto rc = set_option(session, host, SSH_OPTIONS_HOST, host.c_str(), "host");
  if (rc) {
    rc = set_option(session, host, SSH_OPTIONS_KEY_EXCHANGE, k_key_exchange, "key exchange");
  }
  if (!rc) {
    return rc;
  }
  const std::string config = options.ssh_config.string();
  std::error_code ec;
  if (!config.empty() && !std::filesystem::is_regular_file(options.ssh_config, ec)) {
    return fail(host + ": ssh config file " + config + " does not exist"); // libssh would ignore it
  }
  if (parse_config_checked(session, host, config) != SSH_OK) {
    return fail(host + ": cannot read ssh config " + (config.empty() ? "~/.ssh/config" : config) + ": " +
                libssh_error(session));
  }
  const bool process_config = false; // parsed above; ssh_connect must not parse again
  rc = set_option(session, host, SSH_OPTIONS_PROCESS_CONFIG, &process_config, "process-config");
  const unsigned int port = options.port > 0 ? static_cast<unsigned int>(options.port) : 0;
  if (rc && port != 0) {
    rc = set_option(session, host, SSH_OPTIONS_PORT, &port, "port");
  }
  if (rc && !options.user.empty()) {
    rc = set_option(session, host, SSH_OPTIONS_USER, options.user.c_str(), "user");
  }
  return rc ? apply_file_options(session, options) : rc;
}

// --- the transport ------------------------------------------------------------------------

class LibsshTransport final : public Transport {
public:
  LibsshTransport(SessionPtr session, std::string host) : m_session(std::move(session)), m_host(std::move(host)) {}

  Result<ExecResult> exec(const std::string& command, std::string_view stdin_data, Seconds timeout) override
  {
    MemoryInput input(stdin_data);
    return run_command(command, &input, timeout);
  }

  Result<ExecResult> exec_with_file(const std::string& command, const std::filesystem::path& local_file,
                                    Seconds timeout) override
  {
    std::ifstream stream(local_file, std::ios::binary);
    if (!stream) {
      return fail("cannot open local file " + local_file.string() + " to send to " + m_host);
    }
    FileInput input(stream, local_file.string());
    return run_command(command, &input, timeout);
  }

  Result<int> exec_streaming(const std::string& command, const ChunkSink& sink, Seconds timeout) override
  {
    auto channel = open_exec_channel(command);
    if (!channel) {
      return fail(channel.error());
    }
    std::string err;
    const OutputFn output = [&](std::string_view chunk, bool is_stderr) {
      if (is_stderr) {
        err.append(chunk.substr(0, 4096 - std::min<std::size_t>(err.size(), 4096)));
        return true;
      }
      return sink(chunk);
    };
    PumpSpec spec;
    spec.deadline = deadline_after(timeout);
    auto end = Pump(**channel, m_host, spec, output).run();
    if (!end) {
      return fail(end.error());
    }
    if (!err.empty()) {
      spdlog::debug("{}: stderr of streaming command: {}", m_host, err);
    }
    if (*end != PumpEnd::finished) {
      abandon(**channel);
      return -1;
    }
    auto state = final_state(**channel, command);
    if (!state) {
      return fail(state.error());
    }
    return state->status;
  }

  Result<std::string> tcp_request(int port, std::string_view request, Seconds timeout) override
  {
    auto channel = std::make_unique<Channel>(m_session.get());
    if (!channel->valid()) {
      return fail(m_host + ": cannot create a channel: " + libssh_error(m_session.get()));
    }
    if (ssh_channel_open_forward(channel->get(), "127.0.0.1", port, "127.0.0.1", 0) != SSH_OK) {
      return fail(m_host + ": nothing accepts connections on port " + std::to_string(port) + ": " +
                  libssh_error(m_session.get()));
    }
    if (request.empty()) {
      return std::string();
    }
    return exchange(*channel, request, timeout);
  }

private:
  Result<std::unique_ptr<Channel>> open_exec_channel(const std::string& command)
  {
    auto channel = std::make_unique<Channel>(m_session.get());
    if (!channel->valid()) {
      return fail(m_host + ": cannot create a channel: " + libssh_error(m_session.get()));
    }
    if (ssh_channel_open_session(channel->get()) != SSH_OK) {
      return fail(m_host + ": cannot open a session channel: " + libssh_error(m_session.get()));
    }
    if (ssh_channel_request_exec(channel->get(), command.c_str()) != SSH_OK) {
      return fail(m_host + ": cannot start command '" + first_chars(command, 80) +
                  "': " + libssh_error(m_session.get()));
    }
    return channel;
  }

  Result<ExecResult> run_command(const std::string& command, Input* input, Seconds timeout)
  {
    auto channel = open_exec_channel(command);
    if (!channel) {
      return fail(channel.error());
    }
    ExecResult result;
    const OutputFn output = [&](std::string_view chunk, bool is_stderr) {
      (is_stderr ? result.err : result.out).append(chunk);
      return true;
    };
    PumpSpec spec;
    spec.input = input;
    spec.deadline = deadline_after(timeout);
    auto end = Pump(**channel, m_host, spec, output).run();
    if (!end) {
      return fail(end.error());
    }
    if (*end == PumpEnd::timed_out) {
      abandon(**channel);
      return fail(m_host + ": command timed out after " + std::to_string(timeout.count()) +
                  "s: " + first_chars(command, 80));
    }
    auto state = final_state(**channel, command);
    if (!state) {
      return fail(state.error());
    }
    result.exit_status = state->status;
    result.exit_signal = state->signal;
    return result;
  }

  /// The exit state of a finished command; none means the connection broke.
  Result<ExitState> final_state(const Channel& channel, const std::string& command)
  {
    ExitState state = read_exit_state(channel);
    if (!state.known()) {
      return fail(m_host + ": connection lost while running '" + first_chars(command, 80) +
                  "' (no exit status): " + libssh_error(m_session.get()));
    }
    return state;
  }

  /// After a timeout or an early stop: ask sshd to kill the command, then the
  /// channel's deleter closes it. Best effort: OpenSSH (>= 7.9) kills the process
  /// group, but refused it for a root login in our loopback test ("session
  /// signalling requires privilege separation"); the command then runs on until
  /// it next writes to its closed stdout/stderr.
  void abandon(Channel& channel) { ssh_channel_request_send_signal(channel.get(), "KILL"); }

  Result<std::string> exchange(Channel& channel, std::string_view request, Seconds timeout)
  {
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
    spec.send_eof = false; // a half-close can make HTTP servers cancel the request
    spec.wait_exit = false;
    spec.deadline = deadline_after(timeout);
    auto end = Pump(channel, m_host, spec, output).run();
    if (!end) {
      return fail(end.error());
    }
    if (*end == PumpEnd::timed_out) {
      spdlog::debug("{}: tcp request: no end of data after {}s, returning {} bytes", m_host, timeout.count(),
                    response.size());
    }
    return response;
  }

  SessionPtr m_session;
  std::string m_host;
};

Result<SessionPtr> open_session(const ConnectOptions& options)
{
  SessionPtr session(ssh_new());
  if (!session) {
    return fail(options.host + ": cannot create an ssh session (out of memory?)");
  }
  auto configured = apply_options(session.get(), options);
  if (!configured) {
    return fail(configured.error());
  }
  if (ssh_connect(session.get()) != SSH_OK) {
    char* proxy = nullptr;
    std::string through;
    if (ssh_options_get(session.get(), SSH_OPTIONS_PROXYCOMMAND, &proxy) == SSH_OK && proxy != nullptr) {
      through = " through the jump host (ProxyCommand/ProxyJump: " + std::string(proxy) +
                "; is the jump host up, and does `ssh` through it work by hand?)";
      ssh_string_free_char(proxy);
    }
    return fail(options.host + ": cannot connect" + through + ": " + libssh_error(session.get()));
  }
  return session;
}

} // namespace

Result<std::unique_ptr<Transport>> connect_ssh(const ConnectOptions& options)
{
  route_libssh_logs(options.host);
  auto session = open_session(options);
  if (!session) {
    return fail(session.error());
  }
  auto verified = verify_host_key(session->get(), options.host, options.host_key_policy);
  if (!verified) {
    return fail(verified.error());
  }
  auto authenticated = authenticate(session->get(), options.host);
  if (!authenticated) {
    return fail(authenticated.error());
  }
  spdlog::debug("{}: connected as {} (key exchange {})", options.host, session_user(session->get()),
                ssh_get_kex_algo(session->get()));
  return std::unique_ptr<Transport>(std::make_unique<LibsshTransport>(std::move(*session), options.host));
}

} // namespace deploy
