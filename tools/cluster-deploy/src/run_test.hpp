// run-test: how CTest runs a test added with cluster_deploy_add_test. It runs the test's
// command, passes its output through (and keeps a copy), stops it at its deadline, and when
// it fails or times out collects the window's evidence from the nodes and names the files
// in lines CI servers attach to the test's JUnit record. A test killed before it could
// collect (CTest's own TIMEOUT, a stopped ctest) leaves a marker that `collect --pending`
// (the cluster.cleanup fixture) turns into the same folder.
#pragma once

#include "collect.hpp"

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace deploy {

struct RunTestOptions {
  std::string name;                  ///< the CTest test's name
  std::vector<std::string> command;  ///< what it runs
  int deadline = 0;                  ///< seconds; 0: none
  bool always = false;               ///< collect for a passing test too
  std::filesystem::path evidence;    ///< <build>/cluster-deploy/evidence
};

/// Collects a window into a folder (run_collect with a cluster connected by the caller).
using Collector = std::function<Result<std::vector<std::filesystem::path>>(const CollectOptions&)>;

/// Exit status of a test stopped at its deadline (as coreutils' timeout).
inline constexpr int k_exit_test_timed_out = 124;
/// CTest's "skipped" (SKIP_RETURN_CODE of cluster_deploy_add_test): nothing is collected.
inline constexpr int k_exit_test_skipped = 77;

/// Runs the test and returns its exit status (128 + signal when a signal ended it).
int run_test(const RunTestOptions& options, const Collector& collect);

/// Collects the evidence of every test whose run-test was killed before it could, then
/// removes its marker. Returns how many it collected.
int collect_pending(const std::filesystem::path& evidence, const Collector& collect);

} // namespace deploy
