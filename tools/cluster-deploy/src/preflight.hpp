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
/// "needs <path> <library> [<version>...]" lines, for the programs `changes` sends or whose
/// services get a new unit (a program the node has, run as before, was checked when it was
/// sent; with another unit it may now need the node's glibc); and "setting <unit>
/// <section> <key>=<value>" for each setting of the units `changes` installs, which the
/// node's own systemd must know.
std::string preflight_request(const NodeRelease& release, const ChangeSet& changes);

} // namespace deploy
