#include "fake_transport.hpp"
#include "fault.hpp"
#include "leader.hpp"
#include "test_support.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

using namespace deploy;
using deploy::testing::FakeNode;
using deploy::testing::FakeTransport;

namespace {

/// A plan with a 3-member `db` group (servers, LEADER query) and 2 workers.
Plan raft_plan(const std::string& name, bool faults_allowed = true)
{
  auto dir = testing::scratch_dir(name);
  testing::write_inventory(dir, "s1:10.0.0.1\ns2:10.0.0.2\ns3:[fd00::3]\n", "w1:10.0.0.11\nw2:10.0.0.12\n");
  std::string xml = "<plan version='1' cluster='demo' inventory='" + (dir / "inv").string() + "' output='" +
                    (dir / "out").string() + "'" + (faults_allowed ? " faults='allowed'" : "") +
                    "><ssh config='' known-hosts='' host-key-policy='strict' parallel='4'/>"
                    "<service name='db' group='servers'><program>" +
                    (dir / "db").string() +
                    "</program><leader command='leader-of @node@'/></service>"
                    "<service name='worker' group='workers'><program>" +
                    (dir / "worker").string() + "</program><after>db</after></service></plan>";
  return testing::plan_with_inventory(xml, dir / "inv");
}

std::vector<std::string> names(const std::vector<const Node*>& nodes)
{
  std::vector<std::string> result;
  for (const Node* node : nodes) {
    result.push_back(node->name);
  }
  std::sort(result.begin(), result.end());
  return result;
}

LeaderQuery no_leader()
{
  return [](const Service&) -> Result<const Node*> { return fail("no leader query in this test"); };
}

/// A cluster of fake nodes, all reachable.
struct FakeCluster {
  explicit FakeCluster(const Plan& plan)
  {
    std::vector<const Node*> all;
    for (const auto& node : plan.inventory.nodes) {
      all.push_back(&node);
      nodes[node.name];
    }
    cluster = std::make_unique<Cluster>(plan, all, output, 4);
    cluster->connect([this](const Plan&, const Node& node) -> Result<std::unique_ptr<Transport>> {
      return std::unique_ptr<Transport>(std::make_unique<FakeTransport>(nodes[node.name]));
    });
  }
  std::map<std::string, FakeNode> nodes;
  Output output{Color::never};
  std::unique_ptr<Cluster> cluster;
};

} // namespace

TEST_CASE("fault selectors pick the right number of nodes from the service's group")
{
  Plan plan = raft_plan("selectors");
  std::mt19937 random{7};
  Selection db{{}, {}, {"db"}};
  for (int round = 0; round < 5; ++round) {
    auto one = resolve_targets(plan, db, {"one"}, no_leader(), random);
    REQUIRE(one);
    REQUIRE(one->size() == 1);
    CHECK(one->front()->group == "servers");
    auto minority = resolve_targets(plan, db, {"minority"}, no_leader(), random);
    REQUIRE(minority);
    CHECK(minority->size() == 1); // floor((3-1)/2): the group keeps its quorum
    auto majority = resolve_targets(plan, db, {"majority"}, no_leader(), random);
    REQUIRE(majority);
    CHECK(majority->size() == 2);
    CHECK(std::all_of(majority->begin(), majority->end(), [](const Node* n) { return n->group == "servers"; }));
  }
  // A 2-node group has no minority to cut off.
  auto none = resolve_targets(plan, Selection{{}, {}, {"worker"}}, {"minority"}, no_leader(), random);
  REQUIRE_FALSE(none);
  CHECK(none.error().find("no minority") != std::string::npos);
}

TEST_CASE("fault targets by node and group name, and clear errors")
{
  Plan plan = raft_plan("targets");
  std::mt19937 random{1};
  auto named = resolve_targets(plan, {}, {"s2", "workers"}, no_leader(), random);
  REQUIRE(named);
  CHECK(names(*named) == std::vector<std::string>{"s2", "w1", "w2"});
  auto group_option = resolve_targets(plan, Selection{{"workers"}, {}, {}}, {}, no_leader(), random);
  REQUIRE(group_option);
  CHECK(names(*group_option) == std::vector<std::string>{"w1", "w2"});
  // With a selector, --group only says where to choose.
  auto scoped = resolve_targets(plan, Selection{{"workers"}, {}, {}}, {"one"}, no_leader(), random);
  REQUIRE(scoped);
  CHECK(scoped->size() == 1);

  auto unknown = resolve_targets(plan, {}, {"s9"}, no_leader(), random);
  REQUIRE_FALSE(unknown);
  CHECK(unknown.error().find("'s9' is no node or group") != std::string::npos);
  auto unscoped = resolve_targets(plan, {}, {"one"}, no_leader(), random);
  REQUIRE_FALSE(unscoped);
  CHECK(unscoped.error().find("--service") != std::string::npos);
  auto empty = resolve_targets(plan, {}, {}, no_leader(), random);
  REQUIRE_FALSE(empty);
}

TEST_CASE("the leader selector asks the service's LEADER query")
{
  Plan plan = raft_plan("leader-selector");
  std::mt19937 random{1};
  std::vector<std::string> asked;
  LeaderQuery query = [&](const Service& service) -> Result<const Node*> {
    asked.push_back(service.name);
    return plan.inventory.find("s3");
  };
  auto leader = resolve_targets(plan, Selection{{}, {}, {"db"}}, {"leader"}, query, random);
  REQUIRE(leader);
  CHECK(names(*leader) == std::vector<std::string>{"s3"});
  CHECK(asked == std::vector<std::string>{"db"});
  // workers declare no LEADER query: a clear error, not a guess.
  auto none = resolve_targets(plan, Selection{{"workers"}, {}, {}}, {"leader"}, query, random);
  REQUIRE_FALSE(none);
  CHECK(none.error().find("LEADER") != std::string::npos);
}

TEST_CASE("a LEADER answer is matched by node name or address within the group")
{
  Plan plan = raft_plan("leader-answer");
  const Service& db = *plan.find_service("db");
  auto by_name = leader_from_answer(plan, db, "s2\n");
  REQUIRE(by_name);
  CHECK((*by_name)->name == "s2");
  auto by_address = leader_from_answer(plan, db, "  10.0.0.1 \nnoise");
  REQUIRE(by_address);
  CHECK((*by_address)->name == "s1");
  CHECK_FALSE(leader_from_answer(plan, db, "w1"));
  CHECK_FALSE(leader_from_answer(plan, db, ""));
}

TEST_CASE("query_leader renders the query per node and skips nodes that cannot answer")
{
  Plan plan = raft_plan("query-leader");
  FakeCluster fake(plan);
  fake.nodes["s1"].leader_answer = ""; // knows no leader
  fake.nodes["s2"].leader_answer = "s3\n";
  auto leader = query_leader(*fake.cluster, *plan.find_service("db"));
  REQUIRE(leader);
  CHECK((*leader)->name == "s3");
  // The command ran as the service user with @node@ substituted, on s1 first.
  CHECK(fake.nodes["s1"].service_user_commands == std::vector<std::string>{"leader-of s1"});
  CHECK(fake.nodes["s2"].service_user_commands == std::vector<std::string>{"leader-of s2"});
  CHECK(fake.nodes["s3"].service_user_commands.empty());
  CHECK(fake.nodes["w1"].service_user_commands.empty());
}

TEST_CASE("a partition cuts both sides and spares the controller")
{
  Plan plan = raft_plan("partition");
  FakeCluster fake(plan);
  FaultOptions options;
  options.kind = "partition";
  options.targets = {"s3"};
  options.seconds = 30;
  REQUIRE(run_fault(*fake.cluster, {}, options));
  // The target drops everything from every other node ([v6] is given bare)...
  CHECK(fake.nodes["s3"].faults == std::vector<std::string>{"partition 10.0.0.1 10.0.0.2 10.0.0.11 10.0.0.12"});
  // ... and every other node drops what comes from the target.
  for (const char* other : {"s1", "s2", "w1", "w2"}) {
    CHECK(fake.nodes[other].faults == std::vector<std::string>{"partition fd00::3"});
  }
}

TEST_CASE("a partition or a lossy link --from given nodes touches only those and the targets")
{
  // A loss is a partition that drops a share: its percent comes first.
  std::string kind = GENERATE(std::string("partition"), std::string("loss"));
  std::string args = kind == "loss" ? "loss 35 " : "partition ";
  Plan plan = raft_plan("partition-from-" + kind);
  FakeCluster fake(plan);
  FaultOptions options;
  options.kind = kind;
  options.targets = {"s1"};
  options.from = {"s2"};
  options.percent = 35;
  REQUIRE(run_fault(*fake.cluster, {}, options));
  CHECK(fake.nodes["s1"].faults == std::vector<std::string>{args + "10.0.0.2"});
  CHECK(fake.nodes["s2"].faults == std::vector<std::string>{args + "10.0.0.1"});
  CHECK(fake.nodes["s3"].faults.empty());
  CHECK(fake.nodes["w1"].faults.empty());
}

TEST_CASE("a slow link limits each link both ways; --one-way leaves the other side alone")
{
  Plan plan = raft_plan("slow");
  FakeCluster fake(plan);
  FaultOptions options;
  options.kind = "slow";
  options.targets = {"w1"};
  options.from = {"s1", "s2"};
  options.rate = "8mbit";
  REQUIRE(run_fault(*fake.cluster, {}, options));
  CHECK(fake.nodes["w1"].faults == std::vector<std::string>{"slow 1000000 10.0.0.1 10.0.0.2"});
  CHECK(fake.nodes["s1"].faults == std::vector<std::string>{"slow 1000000 10.0.0.11"});

  FakeCluster one_way(plan);
  options.kind = "partition";
  options.one_way = true;
  REQUIRE(run_fault(*one_way.cluster, {}, options));
  CHECK(one_way.nodes["w1"].faults == std::vector<std::string>{"partition 10.0.0.1 10.0.0.2"});
  CHECK(one_way.nodes["s1"].faults.empty());
  CHECK(one_way.nodes["s2"].faults.empty());
}

TEST_CASE("a rate is kbit or mbit per second, in bytes per second on the node")
{
  CHECK(*rate_bytes_per_second("1mbit") == 125000);
  CHECK(*rate_bytes_per_second("500kbit") == 62500);
  for (const char* bad : {"fast", "0mbit", "8", "8mbps", "mbit", "-1mbit", "9999999mbit"}) {
    CHECK(rate_bytes_per_second(bad).error().starts_with("bad rate '"));
  }
}

namespace {

/// For each node of a grudge, the nodes it still has a two-way link with (itself included).
std::map<std::string, std::vector<std::string>> links(const std::vector<const Node*>& nodes, const Grudge& grudge)
{
  auto drops = [&](const Node* a, const Node* b) {
    for (const auto& [node, peers] : grudge) {
      if (node == a && std::find(peers.begin(), peers.end(), b) != peers.end()) {
        return true;
      }
    }
    return false;
  };
  std::map<std::string, std::vector<std::string>> seen;
  for (const Node* a : nodes) {
    for (const Node* b : nodes) {
      if (!drops(a, b) && !drops(b, a)) {
        seen[a->name].push_back(b->name);
      }
    }
  }
  return seen;
}

std::vector<const Node*> all_nodes(const Plan& plan)
{
  std::vector<const Node*> nodes;
  for (const auto& node : plan.inventory.nodes) {
    nodes.push_back(&node);
  }
  return nodes;
}

} // namespace

TEST_CASE("partition shapes: halves, a majorities ring and a bridge, the same for the same seed")
{
  Plan plan = raft_plan("shapes");
  FaultOptions options;
  options.kind = "partition";
  auto servers = plan.inventory.group("servers");
  unsigned seed = GENERATE(1u, 2u, 3u, 4u);
  std::mt19937 random{seed};

  options.shape = "halves";
  auto halves = links(servers, *fault_grudge(plan, options, servers, random));
  std::vector<std::size_t> sizes;
  for (const auto& [node, seen] : halves) {
    sizes.push_back(seen.size());
  }
  std::sort(sizes.begin(), sizes.end());
  CHECK(sizes == std::vector<std::size_t>{1, 2, 2}); // one alone, two together

  options.shape = "bridge";
  auto bridge = links(servers, *fault_grudge(plan, options, servers, random));
  int bridges = 0;
  for (const auto& [node, seen] : bridge) {
    bridges += seen.size() == 3 ? 1 : 0;
    CHECK(seen.size() >= 2); // each end still reaches the bridge
  }
  CHECK(bridges == 1);

  options.shape = "majorities-ring";
  auto everyone = all_nodes(plan);
  auto ring = links(everyone, *fault_grudge(plan, options, everyone, random));
  std::set<std::vector<std::string>> majorities;
  for (const auto& [node, seen] : ring) {
    CHECK(seen.size() >= everyone.size() / 2 + 1);
    CHECK(seen.size() < everyone.size());
    majorities.insert(seen);
  }
  CHECK(majorities.size() == everyone.size()); // no two see the same majority
  CHECK(fault_grudge(plan, options, servers, random).error() ==
        "the shape majorities-ring needs at least 4 target nodes, not 3");

  std::mt19937 again{seed}, once_more{seed};
  options.shape = "halves";
  CHECK(links(servers, *fault_grudge(plan, options, servers, again)) ==
        links(servers, *fault_grudge(plan, options, servers, once_more)));
}

TEST_CASE("a clock fault restarts a dynamically linked service with an offset; a static one is refused")
{
  Plan plan = raft_plan("clock");
  auto dir = plan.inventory_dir.parent_path();
  std::filesystem::copy_file("/bin/true", dir / "worker", std::filesystem::copy_options::overwrite_existing);
  std::filesystem::copy_file("/sbin/ldconfig", dir / "db", std::filesystem::copy_options::overwrite_existing);
  FakeCluster fake(plan);
  FaultOptions options;
  options.kind = "clock";
  options.targets = {"w1"};
  options.offset = "-90";
  REQUIRE(run_fault(*fake.cluster, {}, options));
  CHECK(fake.nodes["w1"].faults == std::vector<std::string>{"clock -90 demo-worker.service"});
  CHECK(fake.nodes["w2"].faults.empty());

  options.targets = {"s1"};
  CHECK_THROWS_WITH(run_fault(*fake.cluster, {}, options),
                    "service db: db is statically linked (or not ELF), so libfaketime cannot change its clock: "
                    "no clock fault");
  CHECK(fake.nodes["s1"].faults.empty());
  options.targets = {"w2"};
  for (const char* bad : {"300", "+", "+5m", "+-3"}) {
    options.offset = bad;
    CHECK_THROWS_WITH(run_fault(*fake.cluster, {}, options),
                      "bad --offset '" + std::string(bad) + "': +S or -S seconds, like +300");
  }
}

TEST_CASE("kill, stop and pause act on the selected services' units of the targets only")
{
  Plan plan = raft_plan("kill");
  FakeCluster fake(plan);
  FaultOptions options;
  options.kind = "kill";
  options.keep_down = true;
  options.targets = {"s2"};
  REQUIRE(run_fault(*fake.cluster, Selection{{}, {}, {"db"}}, options));
  CHECK(fake.nodes["s2"].faults == std::vector<std::string>{"kill-keep-down demo-db.service"});
  CHECK(fake.nodes["s1"].faults.empty());

  options.kind = "pause";
  options.keep_down = false;
  options.targets = {"w1"};
  REQUIRE(run_fault(*fake.cluster, {}, options));
  CHECK(fake.nodes["w1"].faults == std::vector<std::string>{"pause demo-worker.service"});

  // --service db on a worker node: nothing to act on, an error before anything is done.
  options.targets = {"w2"};
  CHECK_THROWS_WITH(run_fault(*fake.cluster, Selection{{}, {}, {"db"}}, options),
                    Catch::Contains("runs none of the selected services"));
  CHECK(fake.nodes["w2"].faults.empty());
}

TEST_CASE("a failed fault on one node fails the command, and heal undoes every node's faults")
{
  Plan plan = raft_plan("heal");
  FakeCluster fake(plan);
  fake.nodes["s1"].fault_exit = 3;
  FaultOptions options;
  options.kind = "stop";
  options.targets = {"servers"};
  CHECK_FALSE(run_fault(*fake.cluster, {}, options));
  CHECK(fake.nodes["s2"].faults.size() == 1);

  FakeCluster healer(plan);
  healer.nodes["s2"].faults = {"stop demo-db.service"};
  healer.nodes["w1"].faults = {"partition 10.0.0.1"};
  REQUIRE(run_heal(*healer.cluster));
  for (auto& [name, node] : healer.nodes) {
    CHECK(node.faults.empty());
  }
}

TEST_CASE("list-faults output becomes active faults with the time left")
{
  auto faults = parse_active_faults("now 1000\nfault f1 partition 1030\nfault f2 pause 990 demo-db.service\n");
  REQUIRE(faults.size() == 2);
  CHECK(faults[0].kind == "partition");
  CHECK(faults[0].seconds_left == 30);
  CHECK(faults[0].units.empty());
  CHECK(faults[1].id == "f2");
  CHECK(faults[1].seconds_left == 0);
  CHECK(faults[1].units == std::vector<std::string>{"demo-db.service"});
}

TEST_CASE("disk-full fills the selected services' data folders; the record names their units")
{
  Plan plan = raft_plan("disk-full");
  FakeCluster fake(plan);
  FaultOptions options;
  options.kind = "disk-full";
  options.targets = {"w1", "s2"};
  REQUIRE(run_fault(*fake.cluster, {}, options));
  CHECK(fake.nodes["w1"].faults == std::vector<std::string>{"disk-full worker"});
  CHECK(fake.nodes["s2"].faults == std::vector<std::string>{"disk-full db"});
  CHECK(fake.nodes["s1"].faults.empty());
  auto snapshot = fake.cluster->find("w1")->ops->snapshot({});
  REQUIRE(snapshot);
  REQUIRE(snapshot->faults);
  REQUIRE(snapshot->faults->size() == 1);
  CHECK(snapshot->faults->at(0).units == std::vector<std::string>{"demo-worker.service"});
}

TEST_CASE("corrupt names one service's file; its bit comes from the seed; bad files are refused")
{
  Plan plan = raft_plan("corrupt");
  FakeCluster fake(plan);
  FaultOptions options;
  options.kind = "corrupt";
  options.targets = {"s1"};
  options.file = "member/snap/db";
  options.seed = 42;
  REQUIRE(run_fault(*fake.cluster, {}, options));
  REQUIRE(fake.nodes["s1"].faults.size() == 1);
  std::string first = fake.nodes["s1"].faults[0];
  CHECK(first.starts_with("corrupt bitflip "));
  CHECK(first.ends_with(" db member/snap/db"));
  REQUIRE(run_fault(*fake.cluster, {}, options));
  CHECK(fake.nodes["s1"].faults.at(1) == first); // the same seed flips the same bit
  options.mode = "truncate";
  options.seed = 43;
  REQUIRE(run_fault(*fake.cluster, {}, options));
  CHECK(fake.nodes["s1"].faults.at(2).starts_with("corrupt truncate "));

  for (const char* bad : {"", "/etc/passwd", "..", "../x", "a/../../x", "a/..", "two words"}) {
    CHECK(check_corrupt_file(bad).error() ==
          "bad --file '" + std::string(bad) +
              "': a file under the service's data folder, relative to it, like member/snap/db");
  }
  CHECK(check_corrupt_file("member/wal/0.wal"));
  CHECK(check_corrupt_file("..hidden"));
}
