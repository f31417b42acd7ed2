// Preflight: what every node must offer before a deploy changes any node (ours or free
// names, systemd, room for the release, programs it can run). remote/preflight.sh checks;
// this builds what it reads.
#pragma once

#include "changes.hpp"
#include "release.hpp"

#include <string>

namespace deploy {

/// preflight.sh's stdin for `release`: "program <path> <machine> <loader or ->" (- when
/// static or when the loader ships with it, BUNDLE_LIBS ALL) and
/// "needs <path> <library> [<version>...]" lines, for the programs `changes` sends (a
/// program the node has already was checked when it was sent).
std::string preflight_request(const NodeRelease& release, const ChangeSet& changes);

} // namespace deploy
