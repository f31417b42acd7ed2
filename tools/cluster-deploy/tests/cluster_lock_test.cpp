#include "cluster_lock.hpp"
#include "fake_cluster.hpp"
#include "test_support.hpp"

using namespace deploy;
using deploy::testing::FakeCluster;

TEST_CASE("a command run holds every node it changes and gives them back")
{
  Plan plan = testing::example_plan("lock-free");
  FakeCluster fakes;
  testing::FakeRun run(plan, fakes, testing::everything(plan).nodes);
  {
    ClusterLock lock(run.cluster, "deploy", Seconds{0});
    CHECK(lock.held());
    for (const auto& name : {"server1", "server2", "worker1"}) {
      CHECK(fakes.nodes[name].locked_by == run_id());
      REQUIRE(fakes.nodes[name].lock_holders.size() == 1);
      CHECK(fakes.nodes[name].lock_holders[0].ends_with(" deploy")); // user@host deploy
    }
  }
  for (const auto& name : {"server1", "server2", "worker1"}) {
    CHECK(fakes.nodes[name].locked_by.empty());
  }
}

TEST_CASE("a node another run holds stops the command before anything changes, and nothing stays locked")
{
  Plan plan = testing::example_plan("lock-held");
  FakeCluster fakes;
  fakes.nodes["server2"].locked_by = "r000000000000001"; // a deploy from CI
  testing::FakeRun run(plan, fakes, testing::everything(plan).nodes);
  ClusterLock lock(run.cluster, "clean", Seconds{0});
  CHECK_FALSE(lock.held());
  CHECK(fakes.nodes["server1"].locked_by.empty()); // taken, then given back
  CHECK(fakes.nodes["worker1"].locked_by.empty());
  CHECK(fakes.nodes["server2"].locked_by == "r000000000000001"); // never another run's
  for (const auto& [name, node] : fakes.nodes) {
    for (const auto& script : node.commands) {
      CHECK((script == "lock.sh" || script == "unlock.sh"));
    }
  }
}
