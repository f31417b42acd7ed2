// One authenticated libssh session: RAII for the session handle, connecting with the
// ssh_config and the inventory's overrides, the host key check (strict or accept-new)
// and publickey authentication. libssh is included only by the ssh_* files.
#pragma once

#include "transport.hpp"

#include <libssh/libssh.h>

#include <memory>
#include <string>

namespace deploy::ssh_detail {

/// Disconnects and frees a session.
struct SessionDeleter {
  void operator()(ssh_session session) const;
};
using SessionPtr = std::unique_ptr<ssh_session_struct, SessionDeleter>;

/// libssh's last error on `session`; never empty.
std::string libssh_error(ssh_session session);

/// Connects to `options.host`, checks its host key and authenticates (agent, then
/// key files; never a password or a prompt). Routes this thread's libssh log to
/// spdlog first: libssh's log callback and level are thread-local. Errors name the host.
Result<SessionPtr> connect_session(const ConnectOptions& options);

} // namespace deploy::ssh_detail
