// Change detection: what a node has (its current release's manifest) against what
// it should have (a NodeRelease).
#pragma once

#include "render.hpp"

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace deploy {

/// What the node reported about itself (see node_ops: the state script).
struct RemoteState {
  std::string current_id;                   ///< empty: never deployed
  std::set<std::string> releases;           ///< release ids kept on the node
  std::map<std::string, std::string> files; ///< current release: path -> sha256
  std::map<std::string, std::string> units; ///< installed unit name -> sha256
};

/// Parses the state script's output: lines "current ID", "release ID",
/// "file SHA  PATH", "unit SHA NAME".
RemoteState parse_remote_state(std::string_view text);

struct ChangeSet {
  bool release_changed = false;                           ///< the node must switch to a new release
  bool release_on_node = false;                           ///< that release is already on the node (no staging)
  std::vector<const ReleaseFile*> send;                   ///< not on the node: upload
  std::vector<std::pair<std::string, std::string>> reuse; ///< (path in current, path in new): same content
  std::vector<std::string> units_to_install;              ///< unit file names
  std::vector<std::string> units_to_remove;               ///< installed, but no longer in the plan
  std::set<std::string> restart;                          ///< services whose program, config or unit changed
  std::uint64_t bytes_to_send = 0;

  bool nothing_to_do() const { return !release_changed && units_to_install.empty() && units_to_remove.empty(); }
};

/// Compares `wanted` with `remote`. A file whose content the node already has is
/// reused there, not sent; a service restarts only if one of its files changed.
ChangeSet compute_changes(const NodeRelease& wanted, const RemoteState& remote);

} // namespace deploy
