// Preflight: what every node must offer before a deploy changes any node (ours or free
// names, systemd, room for the release, programs it can run). remote/preflight.sh checks;
// this builds what it reads.
#pragma once

#include "release.hpp"

#include <string>

namespace deploy {

/// preflight.sh's stdin for `release`: "program <path> <machine> <loader or ->" and
/// "needs <path> <library> [<version>...]" lines.
std::string preflight_request(const NodeRelease& release);

} // namespace deploy
