#include "cluster_lock.hpp"
#include "fake_cluster.hpp"
#include "node_ops.hpp"
#include "test_support.hpp"

#include <chrono>
#include <cstdlib>

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

TEST_CASE("a lock whose controller process ran on the same machine and is gone is taken over at once")
{
  Plan plan = testing::example_plan("lock-dead-here");
  FakeCluster fakes;
  // A deploy run here, killed: its pid is no process (above any pid_max).
  std::string boot = controller_id().substr(0, controller_id().find(' '));
  fakes.nodes["server2"].locked_by = "r000000000000001";
  fakes.nodes["server2"].lock_controller = boot + " 99999999 12345";
  testing::FakeRun run(plan, fakes, testing::everything(plan).nodes);
  auto started = std::chrono::steady_clock::now();
  ClusterLock lock(run.cluster, "deploy", Seconds{0});
  CHECK(lock.held());
  CHECK(fakes.nodes["server2"].locked_by == run_id());
  CHECK(std::chrono::steady_clock::now() - started < Seconds{2}); // no waiting round
  for (auto& slot : run.cluster.slots()) {
    if (slot.node->name == "server2") { // said once, per node
      CHECK(slot.ops->taken_over() == "run r000000000000001 (ci@runner pid 4242 deploy since 2026-11-27T10:00:00Z): "
                                      "its controller process is gone");
    } else {
      CHECK(slot.ops->taken_over().empty());
    }
  }
}

TEST_CASE("a lock whose controller lives, or ran on another machine, is not taken over")
{
  Plan plan = testing::example_plan("lock-alive");
  FakeCluster fakes;
  fakes.nodes["server1"].locked_by = "r000000000000001";
  fakes.nodes["server1"].lock_controller = controller_id(); // alive: this very process
  fakes.nodes["server2"].locked_by = "r000000000000002";
  fakes.nodes["server2"].lock_controller = "00000000-0000-0000-0000-000000000000 99999999 12345";
  fakes.nodes["worker1"].locked_by = "r000000000000003"; // an older record: no controller
  testing::FakeRun run(plan, fakes, testing::everything(plan).nodes);
  ClusterLock lock(run.cluster, "deploy", Seconds{0});
  CHECK_FALSE(lock.held());
  CHECK(fakes.nodes["server1"].locked_by == "r000000000000001");
  CHECK(fakes.nodes["server2"].locked_by == "r000000000000002");
  CHECK(fakes.nodes["worker1"].locked_by == "r000000000000003");
}

TEST_CASE("controller_dead_here judges only processes of the same machine and boot")
{
  CHECK_FALSE(controller_dead_here(controller_id()));
  std::string boot = controller_id().substr(0, controller_id().find(' '));
  CHECK(controller_dead_here(boot + " 99999999 1"));
  CHECK(controller_dead_here(boot + " 1 999999999999")); // pid 1 lives, but started at another time
  CHECK_FALSE(controller_dead_here("another-boot 99999999 1"));
  CHECK_FALSE(controller_dead_here(""));
}

TEST_CASE("lock.sh's answer names the holder's run and controller")
{
  auto holder = parse_lock_holder("locked ci@runner pid 42 deploy since 2026-11-27T10:00:00Z 300\n"
                                  "holder r000000000000001 boot-id 42 777\n");
  CHECK(holder.description == "ci@runner pid 42 deploy since 2026-11-27T10:00:00Z 300");
  CHECK(holder.run == "r000000000000001");
  CHECK(holder.controller == "boot-id 42 777");
  auto old = parse_lock_holder("locked ci@runner pid 42 deploy since 2026-11-27T10:00:00Z 300\nholder r1 \n");
  CHECK(old.run == "r1");
  CHECK(old.controller.empty());
}

TEST_CASE("the lock names its holder's user from the system when USER is unset")
{
  std::string saved = std::getenv("USER") ? std::getenv("USER") : "";
  unsetenv("USER");
  auto who = lock_holder_name("deploy");
  if (!saved.empty()) {
    setenv("USER", saved.c_str(), 1);
  }
  CHECK_FALSE(who.starts_with("?@"));
  CHECK(who.find(" pid ") != std::string::npos);
}

TEST_CASE("lock.sh's word for a stale lock it took over becomes a sentence")
{
  CHECK(describe_stale_lock("stale r1 connection ci@runner pid 42 deploy since T\n") ==
        "run r1 (ci@runner pid 42 deploy since T): its connection is gone");
  CHECK(describe_stale_lock("stale r2 lease ? pid 1 up since T") == "run r2 (? pid 1 up since T): its lease ran out");
  CHECK(describe_stale_lock("").empty());
  CHECK(describe_stale_lock("locked x since T 5\n").empty());
}
