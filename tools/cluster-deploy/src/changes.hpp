// What differs between what a node has (its current release's manifest, units and
// started records) and what it should have (a NodeRelease): the files to send and to
// reuse, the units to install and remove, the services to restart.
#pragma once

#include "release.hpp"

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace deploy {

/// What the node reported about itself (remote/state.sh, parsed by node_ops).
struct RemoteState {
  std::string current_id;                     ///< empty: never deployed
  std::set<std::string> releases;             ///< release ids kept on the node
  std::map<std::string, std::string> files;   ///< current release: path -> sha256
  std::map<std::string, std::string> units;   ///< installed unit name -> sha256
  std::map<std::string, std::string> started; ///< service -> digest it was last started healthy from
  std::string lock_run;                       ///< the run that holds the node's lock ("-": unnamed); empty: none
};

struct ChangeSet {
  bool release_changed = false;         ///< the node must switch to a new release
  bool release_on_node = false;         ///< that release is already on the node (no staging)
  std::vector<const ReleaseFile*> send; ///< not on the node: upload
  struct Reuse {
    std::string from;   ///< path in the current release
    std::string to;     ///< path in the new release
    std::string sha256; ///< what the content must still be
  };
  std::vector<Reuse> reuse;                  ///< content the node has: copied or linked there, not sent
  std::vector<std::string> units_to_install; ///< unit file names
  std::vector<std::string> units_to_remove;  ///< installed, but no longer in the plan
  /// Services whose program, config or unit differ from what their running
  /// instance was started from (or that no deploy has started healthy yet).
  std::set<std::string> restart;
  std::uint64_t bytes_to_send = 0;

  bool nothing_to_do() const { return !release_changed && units_to_install.empty() && units_to_remove.empty(); }
};

/// Compares `wanted` with `remote`. A file whose content the node already has is
/// reused there, not sent; a service restarts only if its files differ from what it
/// was last started from, so a restart skipped or failed once is done next time.
ChangeSet compute_changes(const NodeRelease& wanted, const RemoteState& remote);

} // namespace deploy
