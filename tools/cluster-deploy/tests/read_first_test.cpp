#include "fake_cluster.hpp"
#include "node_ops.hpp"
#include "read_first.hpp"
#include "render.hpp"
#include "test_support.hpp"

#include <algorithm>

using namespace deploy;
using deploy::testing::FakeCluster;

namespace {

/// A second deploy's start, as the CLI runs it: is it one that takes no lock?
bool unchanged_second_run(const Plan& plan, FakeCluster& fakes, testing::FakeRun& run)
{
  for (auto& [name, node] : fakes.nodes) {
    node.round_trips = 0;
    node.commands.clear();
    node.systemctl.clear();
  }
  auto all = testing::everything(plan);
  auto releases = render_releases(plan, all.nodes);
  read_with_lock(run.cluster, releases);
  return unchanged_without_lock(run.cluster, all.services, releases);
}

bool ran(const testing::FakeNode& node, const std::string& script)
{
  return std::find(node.commands.begin(), node.commands.end(), script) != node.commands.end();
}

} // namespace

TEST_CASE("a deploy that finds nothing to change reads each node once and takes no lock")
{
  Plan plan = testing::example_plan("read-first");
  FakeCluster fakes;
  Output quiet(Color::never);
  REQUIRE(testing::deploy_everything_locked(plan, fakes, quiet));
  testing::FakeRun run(plan, fakes, testing::everything(plan).nodes);
  REQUIRE(unchanged_second_run(plan, fakes, run));
  auto all = testing::everything(plan);
  CHECK(run_deploy(run.cluster, all.services, render_releases(plan, all.nodes),
                   DeployOptions{false, HealthOptions{Seconds{5}, Seconds{0}}}));
  for (const auto& [name, node] : fakes.nodes) {
    INFO(name);
    CHECK(node.round_trips == 1); // the reading, its probes included
    CHECK_FALSE(ran(node, "lock.sh"));
    CHECK_FALSE(ran(node, "unlock.sh"));
    CHECK(node.locked_by.empty());
    CHECK(node.systemctl.empty());
  }
  // The safety net: a node of such a run refuses what would change it.
  auto refused = run.cluster.find("worker1")->ops->systemctl("restart", "worker");
  REQUIRE_FALSE(refused);
  CHECK(refused.error().find("holds no lock") != std::string::npos);
  CHECK(fakes.nodes["worker1"].systemctl.empty());
}

TEST_CASE("a deploy takes the lock when a node is held, a unit stopped, a probe failing or the release new")
{
  Plan plan = testing::example_plan("read-first-not");
  FakeCluster fakes;
  Output quiet(Color::never);
  REQUIRE(testing::deploy_everything_locked(plan, fakes, quiet));
  SECTION("another run holds a node")
  {
    fakes.nodes["server2"].locked_by = "r000000000000001";
    testing::FakeRun run(plan, fakes, testing::everything(plan).nodes);
    CHECK_FALSE(unchanged_second_run(plan, fakes, run));
  }
  SECTION("a unit is stopped: the deploy starts it")
  {
    fakes.nodes["server2"].active.clear();
    testing::FakeRun run(plan, fakes, testing::everything(plan).nodes);
    CHECK_FALSE(unchanged_second_run(plan, fakes, run));
  }
  SECTION("a probe fails")
  {
    fakes.nodes["worker1"].exec_exits["registered"] = 1;
    testing::FakeRun run(plan, fakes, testing::everything(plan).nodes);
    CHECK_FALSE(unchanged_second_run(plan, fakes, run));
  }
  SECTION("a service last started from other files: a restart is due")
  {
    fakes.nodes["worker1"].started.clear(); // so the deploy restarts it
    testing::FakeRun run(plan, fakes, testing::everything(plan).nodes);
    CHECK_FALSE(unchanged_second_run(plan, fakes, run));
  }
  SECTION("this build tree deployed another release last: no reading ahead at all")
  {
    record_deployed(plan, {{"worker1", "0123456789ab"}});
    testing::FakeRun run(plan, fakes, testing::everything(plan).nodes);
    CHECK_FALSE(unchanged_second_run(plan, fakes, run));
    for (const auto& [name, node] : fakes.nodes) {
      CHECK(node.round_trips == 0);
    }
  }
  SECTION("clean ran since: the next deploy does not read ahead")
  {
    {
      testing::FakeRun clean(plan, fakes, testing::everything(plan).nodes);
      ClusterLock lock(clean.cluster, "clean", Seconds{0});
      REQUIRE(lock.held());
      REQUIRE(run_clean(clean.cluster, false));
    }
    testing::FakeRun run(plan, fakes, testing::everything(plan).nodes);
    CHECK_FALSE(unchanged_second_run(plan, fakes, run));
    for (const auto& [name, node] : fakes.nodes) {
      CHECK(node.round_trips == 0);
    }
  }
  for (const auto& [name, node] : fakes.nodes) {
    CHECK_FALSE(ran(node, "lock.sh")); // only the caller takes it, afterwards
  }
}
