// ssh_config options that libssh 0.10 reads but does not honour: IdentitiesOnly is
// handled by the helper itself (identities_only_for); the others (ServerAliveInterval,
// ...) are recognised in libssh's own parser messages and reported once per run as a
// warning, so nobody relies on them unknowingly.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace deploy {

struct IgnoredOption {
  std::string name;       ///< as written in the file, e.g. IdentitiesOnly
  int line = 0;           ///< in the file that held it (the config or one it includes)
  bool applicable = true; ///< false: meaningless for the helper (ControlMaster, SendEnv, ...)
};

/// Recognises libssh's "Unsupported option: X, line: N" and "Unapplicable option: X,
/// line: N" log messages.
std::optional<IgnoredOption> parse_libssh_config_message(std::string_view message);

/// The warning for `option`, naming the config file and what happens instead.
std::string ignored_option_warning(const IgnoredOption& option, const std::string& config);

/// The IdentitiesOnly value that applies to `host` in ssh_config text, as OpenSSH
/// decides it: the first value in a `Host` block whose patterns (*, ?, !) match `host`
/// (or before any Host line, or under `Match all`). Other `Match` blocks and `Include`d
/// files are not evaluated. nullopt: not set.
std::optional<bool> identities_only_for(std::string_view config_text, std::string_view host);

/// True for an option the helper applies itself: an IdentitiesOnly line of the
/// config file (`config_text`; not of a file it includes).
bool handled_by_helper(const IgnoredOption& option, std::string_view config_text);

/// libssh 0.10 turns `ProxyJump j` into `ProxyCommand ssh -W '[%h]:%p' j`, so the
/// OpenSSH client resolves `j` in the user's ~/.ssh/config, not in the ssh_config the
/// helper was given. For that form (and a given `config`), the same command with
/// `-F <config>`, so the jump host is looked up where the node was; else unchanged.
std::string proxy_jump_with_config(const std::string& proxy_command, const std::string& config);

/// Logs ignored_option_warning() (spdlog warn; not applicable ones at debug) the
/// first time `option.name` is seen in this process; later sightings are dropped.
/// Thread-safe.
/// Options that change nothing for the helper (BatchMode: it never prompts) are
/// logged at debug only.
void warn_once(const IgnoredOption& option, const std::string& config);

} // namespace deploy
