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

TEST_CASE("a deploy reads each node in the lock's round trip and reads it again only when asked anew")
{
  Plan plan = testing::example_plan("lock-reads");
  FakeCluster fakes;
  Output quiet(Color::never);
  REQUIRE(testing::deploy_everything(plan, fakes, quiet));
  testing::FakeRun run(plan, fakes, testing::everything(plan).nodes);
  NodeSlot* worker = nullptr;
  for (auto& slot : run.cluster.slots()) {
    if (slot.node->name == "worker1") {
      worker = &slot;
    }
  }
  REQUIRE(worker);
  auto& node = fakes.nodes["worker1"];
  node.round_trips = 0;
  worker->ops->read_with_lock({"worker"});
  ClusterLock lock(run.cluster, "deploy", Seconds{0});
  REQUIRE(lock.held());
  CHECK(node.round_trips == 1);
  auto reading = worker->ops->read_node({"worker"});
  REQUIRE(reading);
  CHECK(node.round_trips == 1); // answered from what the lock read
  CHECK_FALSE(reading->deployed.current_id.empty());
  REQUIRE(reading->units.count("worker") == 1);
  CHECK(reading->units.at("worker").running());
  REQUIRE(worker->ops->read_node({"worker"})); // a second reading is a fresh one
  CHECK(node.round_trips == 2);
}
