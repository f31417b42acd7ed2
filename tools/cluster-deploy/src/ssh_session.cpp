// The libssh session (libssh 0.10, blocking, one per thread): options from ssh_config
// with the inventory's values on top, host key check, authentication, libssh logging.
#include "ssh_session.hpp"

#include "ssh_config_warnings.hpp"

#include <libssh/callbacks.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>
#include <vector>

namespace deploy::ssh_detail {
namespace {

// libssh 0.10's own default order, with curve25519 explicitly first: it is about
// half the client CPU of the alternatives. A KexAlgorithms line in ssh_config wins.
constexpr const char* k_key_exchange =
    "curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,ecdh-sha2-nistp384,"
    "ecdh-sha2-nistp521,diffie-hellman-group18-sha512,diffie-hellman-group16-sha512,"
    "diffie-hellman-group-exchange-sha256,diffie-hellman-group14-sha256";

// --- RAII for the handles a session hands out ------------------------------------

struct KeyDeleter {
  void operator()(ssh_key key) const { ssh_key_free(key); }
};
struct HashDeleter {
  void operator()(unsigned char* hash) const { ssh_clean_pubkey_hash(&hash); }
};
struct CharDeleter {
  void operator()(char* text) const { ssh_string_free_char(text); }
};

using KeyPtr = std::unique_ptr<ssh_key_struct, KeyDeleter>;
using HashPtr = std::unique_ptr<unsigned char, HashDeleter>;
using CharPtr = std::unique_ptr<char, CharDeleter>;

/// A string option as libssh resolved it; none when unset.
std::optional<std::string> string_option(ssh_session session, ssh_options_e option)
{
  char* raw = nullptr;
  if (ssh_options_get(session, option, &raw) != SSH_OK || raw == nullptr) {
    return std::nullopt;
  }
  return std::string(CharPtr(raw).get());
}

// --- logging (libssh's callback and level are thread-local) -------------------

thread_local std::string t_log_host;
thread_local std::vector<std::string>* t_config_messages = nullptr; ///< set while parsing ssh_config

void forward_libssh_log(int /*priority*/, const char* /*function*/, const char* buffer, void* /*userdata*/)
{
  if (t_config_messages != nullptr && buffer != nullptr) {
    t_config_messages->emplace_back(buffer);
  }
  spdlog::trace("{}: libssh: {}", t_log_host, buffer != nullptr ? buffer : ""); // -vv
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
  const auto proxy = string_option(session, SSH_OPTIONS_PROXYCOMMAND);
  if (rc == SSH_OK && proxy) {
    const std::string& command = *proxy;
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
  if (level <= spdlog::level::trace) { // -vv: libssh's protocol lines; -v shows our steps only
    ssh_set_log_level(SSH_LOG_PROTOCOL);
  } else {
    ssh_set_log_level(SSH_LOG_WARN);
  }
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
  return string_option(session, SSH_OPTIONS_KNOWNHOSTS).value_or("~/.ssh/known_hosts");
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
  return string_option(session, SSH_OPTIONS_USER).value_or("?");
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

/// A connected session, not yet verified or authenticated.
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
    std::string through;
    if (auto proxy = string_option(session.get(), SSH_OPTIONS_PROXYCOMMAND)) {
      through = " through the jump host (ProxyCommand/ProxyJump: " + *proxy +
                "; is the jump host up, and does `ssh` through it work by hand?)";
    }
    return fail(options.host + ": cannot connect" + through + ": " + libssh_error(session.get()));
  }
  return session;
}

} // namespace

void SessionDeleter::operator()(ssh_session session) const
{
  ssh_disconnect(session);
  ssh_free(session);
}

std::string libssh_error(ssh_session session)
{
  const char* text = ssh_get_error(session);
  return (text != nullptr && *text != '\0') ? std::string(text) : std::string("unknown libssh error");
}

Result<SessionPtr> connect_session(const ConnectOptions& options)
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
  return session;
}

} // namespace deploy::ssh_detail
