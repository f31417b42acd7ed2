// Everything done on a node, as small POSIX sh scripts run as root (directly when
// the login user is root, else through `sudo -n`). Every argument is quoted.
#pragma once

#include "error.hpp"
#include "manifest.hpp"
#include "render.hpp"
#include "transport.hpp"

#include <map>
#include <string>
#include <vector>

namespace deploy {

/// The command line that runs `script` as root with `args` as $1, $2, ...
std::string root_command(const std::string& script, const std::vector<std::string>& args);

/// One unit's state as systemd reports it.
struct UnitState {
  std::string active; ///< ActiveState: active, inactive, failed, activating, ...
  std::string sub;    ///< SubState: running, dead, auto-restart, ...
  std::string result; ///< Result: success, oom-kill, exit-code, signal, ... (of the last run)
  /// systemd's "Failed with result" entries since the unit was installed or last started
  /// by a deploy (oldest first): oom-kill, exit-code, ...
  std::vector<std::string> failures;
  long main_pid = 0;
  long restarts = 0; ///< NRestarts
  long uptime_seconds = -1;
  bool loaded = false;

  bool running() const { return active == "active" && sub == "running"; }
};

/// Operations on one node, over its Transport.
class NodeOps {
public:
  NodeOps(Transport& transport, std::string node, NodeLayout layout)
      : m_transport(transport), m_node(std::move(node)), m_layout(std::move(layout))
  {
  }

  Result<RemoteState> read_state();
  /// Creates the staging folder of `release` and puts the reused files in it.
  /// Returns the paths whose content on the node was not what its manifest says:
  /// they must be uploaded too.
  Result<std::vector<std::string>> prepare_staging(const NodeRelease& release, const ChangeSet& changes);
  Result<void> upload(const NodeRelease& release, const ReleaseFile& file);
  /// Writes the manifest, checks every file's hash, and moves the release into place.
  Result<void> seal(const NodeRelease& release);
  /// Stops and removes units no longer in the plan, installs changed units,
  /// switches `current` atomically, prunes old releases.
  Result<void> activate(const NodeRelease& release, const ChangeSet& changes);

  /// Notes that `service` runs healthy from files with this digest (see ChangeSet::restart).
  Result<void> record_started(const std::string& service, const std::string& digest);
  /// start, restart (both without waiting) or stop.
  Result<void> systemctl(const std::string& verb, const std::string& service);
  /// Runs `shell_command` as the services' user (HEALTH exec probes).
  Result<ExecResult> run_as_service_user(const std::string& shell_command, Seconds timeout);
  /// The unit's state; `with_failures` also reads UnitState::failures (one more journal query).
  Result<UnitState> unit_state(const std::string& service, bool with_failures = false);
  Result<std::string> journal_tail(const std::string& service, int lines);
  /// The id of the release `current` points to; empty when nothing is deployed.
  Result<std::string> current_release();

  /// Stops and removes units and releases; data only with `purge_data`.
  Result<void> clean(const std::vector<std::string>& services, bool purge_data);
  /// Files of the current release (and installed units) that differ from its manifest.
  Result<std::vector<std::string>> drift();

  const std::string& node() const { return m_node; }
  Transport& transport() { return m_transport; }

private:
  Result<ExecResult> run_script(const std::string& what, const std::string& script,
                                const std::vector<std::string>& args, std::string_view input = {},
                                Seconds timeout = Seconds{120});

  Transport& m_transport;
  std::string m_node;
  NodeLayout m_layout;
};

/// Parses `systemctl show` key=value output.
UnitState parse_unit_state(std::string_view text);

} // namespace deploy
