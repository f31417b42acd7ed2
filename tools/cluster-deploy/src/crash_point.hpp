// Named crash points, for tests of interrupted runs (rustup's deterministic checkpoints):
// a test sets CLUSTER_DEPLOY_CRASH_AT and the controller stops dead at that step, as if
// killed there, so that the next run's convergence can be checked at every step.
// Not in --help: a user never needs it. docs/testing.md lists the points.
#pragma once

#include <string_view>

namespace deploy {

/// When $CLUSTER_DEPLOY_CRASH_AT is "<point>[@<n>][:<signal>]" and this is the n-th time
/// (default 1) the run reaches `point`, sends this process <signal> (KILL, the default,
/// INT, TERM, or STOP: frozen until a test cuts a node's link and sends SIGCONT).
/// Points: locked, compared, prepared, relay-opened, passed-on, relay-closed, uploaded,
/// sealed, staged, switched, started, healthy, recorded, switched-back, rolled-out.
/// Thread-safe; costs one atomic read when unset.
void crash_point(std::string_view point);

} // namespace deploy
