// The command line: parses arguments, runs one subcommand, maps errors to exit codes.
#pragma once

namespace deploy {

/// Exit codes are API: documented in docs/helper.md ("Exit codes").
constexpr int k_exit_ok = 0;
constexpr int k_exit_node_failure = 1;
constexpr int k_exit_usage = 2;

/// Runs the helper; returns the process exit code. Catches deploy::Error only.
int run(int argc, char** argv);

} // namespace deploy
