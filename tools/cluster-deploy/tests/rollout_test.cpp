#include "deploy.hpp"
#include "fake_transport.hpp"
#include "rollout.hpp"
#include "test_support.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <condition_variable>
#include <fstream>
#include <map>
#include <mutex>

using namespace deploy;
using deploy::testing::FakeNode;
using deploy::testing::FakeTransport;

namespace {

/// A Raft-like `db` group of 3 (http health) and 3 workers (HEALTH exec "ready-check");
/// `db_extra` / `worker_extra` are added inside each <service> element.
Plan rollout_plan(const std::string& name, const std::string& db_extra, const std::string& worker_extra = "",
                  const std::string& worker_attributes = "")
{
  auto dir = testing::scratch_dir(name);
  testing::write_inventory(dir, "s1:10.0.0.1\ns2:10.0.0.2\ns3:10.0.0.3\n",
                           "w1:10.0.0.11\nw2:10.0.0.12\nw3:10.0.0.13\n");
  std::string xml = "<plan version='1' cluster='demo' inventory='" + (dir / "inv").string() + "' output='" +
                    (dir / "out").string() +
                    "'><ssh config='' known-hosts='' host-key-policy='strict' parallel='4'/>"
                    "<service name='db' group='servers' serial='1'><program>" +
                    (dir / "db").string() + "</program><health kind='http' port='2379' path='/health'/>" + db_extra +
                    "</service><service name='worker' group='workers'" + worker_attributes + "><program>" +
                    (dir / "worker").string() + "</program><health kind='exec' command='ready-check'/>" + worker_extra +
                    "<after>db</after></service></plan>";
  return testing::plan_with_inventory(xml, dir / "inv");
}

struct Fakes {
  std::map<std::string, FakeNode> nodes;
  std::vector<std::string> order;
};

bool deploy_once(const Plan& plan, Fakes& fakes, Output& output, Seconds settle = Seconds{0})
{
  std::vector<const Node*> nodes;
  for (const auto& node : plan.inventory.nodes) {
    nodes.push_back(&node);
    fakes.nodes[node.name].name = node.name;
    fakes.nodes[node.name].order = &fakes.order;
  }
  std::vector<const Service*> services;
  for (const auto& service : plan.services) {
    services.push_back(&service);
  }
  Cluster cluster(plan, nodes, output, 4);
  cluster.connect([&](const Plan&, const Node& node) -> Result<std::unique_ptr<Transport>> {
    return std::unique_ptr<Transport>(new FakeTransport(fakes.nodes[node.name]));
  });
  DeployOptions options{false, HealthOptions{Seconds{2}, settle}};
  return run_deploy(cluster, services, render_releases(plan, nodes), options);
}

/// Deploys once (all healthy); returns each node's release.
std::map<std::string, std::string> deployed_releases(const Plan& plan, Fakes& fakes)
{
  Output output(Color::never);
  REQUIRE(deploy_once(plan, fakes, output));
  std::map<std::string, std::string> releases;
  for (const auto& [name, node] : fakes.nodes) {
    releases[name] = node.current;
  }
  return releases;
}

std::vector<std::string> restarts_of(const Fakes& fakes, const std::string& unit)
{
  std::vector<std::string> nodes;
  for (const auto& line : fakes.order) {
    if (line.find(" restart " + unit) != std::string::npos) {
      nodes.push_back(line.substr(0, line.find(' ')));
    }
  }
  return nodes;
}

bool has_row(const Output& output, const std::string& node, const std::string& action)
{
  auto rows = output.rows();
  return std::any_of(rows.begin(), rows.end(),
                     [&](const SummaryRow& row) { return row.node == node && row.action == action; });
}

Service with(const std::string& serial, int canary, bool quorum_group)
{
  Service service;
  service.serial = *parse_amount(serial, "SERIAL");
  service.canary = canary;
  if (quorum_group) {
    service.leader = "who-leads";
  }
  return service;
}

} // namespace

TEST_CASE("batches: SERIAL as a count or a share, a canary first, a quorum group's fault budget")
{
  CHECK(batch_sizes(with("1", 0, true), 3, 3) == std::vector<int>{1, 1, 1});
  CHECK(batch_sizes(with("50%", 1, false), 3, 3) == std::vector<int>{1, 2});
  CHECK(batch_sizes(with("25%", 0, false), 10, 10) == std::vector<int>{3, 3, 3, 1});
  // SERIAL 3 in a 5-member Raft group: never more than 2 members down, whatever SERIAL says.
  CHECK(batch_sizes(with("3", 0, true), 5, 5) == std::vector<int>{2, 2, 1});
  // No SERIAL: one batch.
  CHECK(batch_sizes(with("", 0, false), 4, 6) == std::vector<int>{4});
  CHECK(batch_sizes(with("", 2, false), 4, 6) == std::vector<int>{2, 2});
}

TEST_CASE("the leader restarts last")
{
  Plan plan = rollout_plan("rollout-leader", "<leader command='who-leads'/>");
  Fakes fakes;
  Output first(Color::never);
  REQUIRE(deploy_once(plan, fakes, first));
  std::ofstream(plan.services[0].program) << "db v2";
  for (const char* node : {"s1", "s2", "s3"}) {
    fakes.nodes[node].leader_answer = "s1\n";
  }
  fakes.order.clear();
  Output second(Color::never);
  REQUIRE(deploy_once(plan, fakes, second));
  CHECK(restarts_of(fakes, "demo-db.service") == std::vector<std::string>{"s2", "s3", "s1"});
}

TEST_CASE("no roll begins while the group's QUORUM check fails")
{
  Plan plan = rollout_plan("rollout-quorum", "<quorum command='group-check'/>");
  Fakes fakes;
  Output first(Color::never);
  REQUIRE(deploy_once(plan, fakes, first));
  std::string v1 = fakes.nodes["s1"].current;
  std::ofstream(plan.services[0].program) << "db v2";
  fakes.order.clear();
  // The group is not whole (a member lags, say): the roll must not begin.
  Output second(Color::never);
  for (const char* node : {"s1", "s2", "s3"}) {
    fakes.nodes[node].exec_exits["group-check"] = 1;
  }
  CHECK_FALSE(deploy_once(plan, fakes, second));
  CHECK(restarts_of(fakes, "demo-db.service").empty());
  CHECK(has_row(second, "s1", "not restarted"));
  CHECK(fakes.nodes["s1"].current == v1); // nothing switched
}

TEST_CASE("a node whose later service may not restart goes back: no unit or current ahead of what runs")
{
  // Two services on the servers: `worker` rolls first, then db, whose QUORUM check refuses the roll.
  Plan plan = rollout_plan("rollout-two-on-a-node", "<quorum command='group-check'/>");
  plan.services[1].group = "servers";
  plan.services[1].after.clear();
  plan.services[0].after = {"worker"};
  std::swap(plan.services[0], plan.services[1]); // the plan lists services in AFTER order
  Fakes fakes;
  auto v1 = deployed_releases(plan, fakes);
  std::ofstream(plan.services[0].program) << "worker v2";
  std::ofstream(plan.services[1].program) << "db v2";
  for (const char* node : {"s1", "s2", "s3"}) {
    fakes.nodes[node].exec_exits["group-check"] = 1;
  }
  fakes.order.clear();
  Output second(Color::never);
  CHECK_FALSE(deploy_once(plan, fakes, second));
  CHECK(restarts_of(fakes, "demo-db.service").empty());
  for (const char* node : {"s1", "s2", "s3"}) {
    INFO(node);
    // db still runs v1: its node is back on v1, so a crash of db does not start v2 past its gate.
    CHECK(fakes.nodes[node].current == v1[node]);
    CHECK(has_row(second, node, "rolled back"));
    CHECK(has_row(second, node, "not restarted"));
  }
  // Each server's worker: v2, then back to v1 with its node.
  CHECK(restarts_of(fakes, "demo-worker.service").size() == 6);
}

TEST_CASE("a canary that fails is rolled back, and the other workers never leave their release")
{
  Plan plan = rollout_plan("rollout-canary", "", "", " serial='50%' canary='1'");
  Fakes fakes;
  auto v1 = deployed_releases(plan, fakes);
  std::ofstream(plan.services[1].program) << "worker v2 (exits at once)";
  fakes.nodes["w1"].exec_exits["ready-check"] = 1; // the canary never becomes ready
  fakes.order.clear();
  Output second(Color::never);
  CHECK_FALSE(deploy_once(plan, fakes, second));
  CHECK(restarts_of(fakes, "demo-worker.service") == std::vector<std::string>{"w1", "w1"}); // v2, then back
  CHECK(fakes.nodes["w1"].current == v1["w1"]);
  CHECK(has_row(second, "w1", "rolled back"));
  for (const char* node : {"w2", "w3"}) {
    CHECK(fakes.nodes[node].current == v1[node]);
    CHECK(fakes.nodes[node].restarts.count("demo-worker.service") == 0);
    CHECK(has_row(second, node, "not restarted"));
  }
}

TEST_CASE("a switch that fails after restarting its service goes back and restarts it on the old release")
{
  Plan plan = rollout_plan("rollout-switch-fails", "", "", " serial='50%' canary='1'");
  Fakes fakes;
  auto v1 = deployed_releases(plan, fakes);
  std::ofstream(plan.services[1].program) << "worker v2";
  fakes.nodes["w1"].activate_fails = 1;
  fakes.order.clear();
  Output second(Color::never);
  CHECK_FALSE(deploy_once(plan, fakes, second));
  // The failed step had restarted the worker on v2: going back restarts it on v1.
  CHECK(restarts_of(fakes, "demo-worker.service") == std::vector<std::string>{"w1", "w1"});
  CHECK(fakes.nodes["w1"].current == v1["w1"]);
  CHECK(has_row(second, "w1", "rolled back"));
}

TEST_CASE("MAX_FAIL tolerates a failed node: it is rolled back, the others roll on")
{
  Plan plan = rollout_plan("rollout-maxfail", "", "", " serial='1' max-fail='1'");
  Fakes fakes;
  auto v1 = deployed_releases(plan, fakes);
  std::ofstream(plan.services[1].program) << "worker v2";
  fakes.nodes["w2"].exec_exits["ready-check"] = 1;
  Output second(Color::never);
  CHECK_FALSE(deploy_once(plan, fakes, second)); // a node failed: exit 1 all the same
  CHECK(fakes.nodes["w2"].current == v1["w2"]);
  CHECK(has_row(second, "w2", "rolled back"));
  CHECK(fakes.nodes["w1"].current != v1["w1"]);
  CHECK(fakes.nodes["w3"].current != v1["w3"]);
  CHECK(has_row(second, "w3", "restarted"));
}

TEST_CASE("a failure in a later batch takes every switched node back, the failed one first, one at a time")
{
  Plan plan = rollout_plan("rollout-second-batch", "<quorum command='group-check'/>");
  Fakes fakes;
  auto v1 = deployed_releases(plan, fakes);
  std::ofstream(plan.services[0].program) << "db v2";
  fakes.nodes["s2"].healthy = false; // v2 fails on the second node rolled
  fakes.order.clear();
  Output second(Color::never);
  CHECK_FALSE(deploy_once(plan, fakes, second));
  // s1 (batch 1) and s2 (batch 2) restarted on v2; then s2 went back first, then s1; s3 never moved.
  CHECK(restarts_of(fakes, "demo-db.service") == std::vector<std::string>{"s1", "s2", "s2", "s1"});
  for (const char* node : {"s1", "s2", "s3"}) {
    CHECK(fakes.nodes[node].current == v1[node]);
  }
  CHECK(has_row(second, "s1", "rolled back"));
  CHECK(has_row(second, "s2", "rolled back"));
  CHECK(has_row(second, "s3", "not restarted"));
}

TEST_CASE("the first batch settles, later batches of a probed service are gated by their probe")
{
  for (bool probed : {true, false}) {
    INFO("probed: " << probed);
    Plan plan = rollout_plan(probed ? "rollout-settle-once" : "rollout-settle-each", "", "", " serial='1'");
    if (!probed) {
      plan.services[1].health = Health{}; // "active" is all it has: every batch settles
    }
    Fakes fakes;
    deployed_releases(plan, fakes);
    std::ofstream(plan.services[1].program) << "worker v2";
    fakes.order.clear();
    for (auto& [name, node] : fakes.nodes) {
      node.commands.clear();
    }
    Output second(Color::never);
    REQUIRE(deploy_once(plan, fakes, second, Seconds{1}));
    REQUIRE(restarts_of(fakes, "demo-worker.service").size() == 3); // one batch a worker
    auto looks = [&](const char* node) {
      const auto& commands = fakes.nodes[node].commands;
      return std::count(commands.begin(), commands.end(), "unit-state.sh");
    };
    // The units read at the start of the run decide "roll" and "restart" without another
    // look: a worker that does not settle is looked at then, and once for its health.
    CHECK(looks("w2") == (probed ? 2 : 3));
    // A settling worker is looked at once more, when its window has passed.
    CHECK(looks("w2") == looks("w3"));
    CHECK(looks("w1") == looks("w2") + (probed ? 1 : 0));
  }
}

TEST_CASE("a node's health is checked as soon as it has started there, while the others still start")
{
  Plan plan = rollout_plan("rollout-health-at-once", "");
  Fakes fakes;
  std::mutex mutex;
  std::condition_variable probed;
  bool s1_probed = false, s3_waited_in_vain = false;
  fakes.nodes["s1"].healthy_if = [&] {
    std::lock_guard lock(mutex);
    s1_probed = true;
    probed.notify_all();
    return true;
  };
  // s3's start of db goes on only once s1's db has been probed (or after 3 s in vain).
  fakes.nodes["s3"].on_systemctl = [&](const std::string& call) {
    if (call.find("demo-db.service") == std::string::npos || call.starts_with("stop")) {
      return;
    }
    std::unique_lock lock(mutex);
    s3_waited_in_vain = !probed.wait_for(lock, std::chrono::seconds(3), [&] { return s1_probed; });
  };
  Output output(Color::never);
  REQUIRE(deploy_once(plan, fakes, output));
  CHECK_FALSE(s3_waited_in_vain);
}

TEST_CASE("a service's SETTLE replaces the run's settle window")
{
  Plan plan = rollout_plan("rollout-settle-own", "", "", " serial='1'");
  plan.services[1].settle = 0;
  Fakes fakes;
  deployed_releases(plan, fakes);
  std::ofstream(plan.services[1].program) << "worker v2";
  for (auto& [name, node] : fakes.nodes) {
    node.commands.clear();
  }
  Output second(Color::never);
  REQUIRE(deploy_once(plan, fakes, second, Seconds{1}));
  auto looks = [&](const char* node) {
    const auto& commands = fakes.nodes[node].commands;
    return std::count(commands.begin(), commands.end(), "unit-state.sh");
  };
  CHECK(looks("w1") == looks("w2")); // the canary did not settle either
}

TEST_CASE("waves: services of other groups that do not depend on each other roll at the same time")
{
  auto service = [](const char* name, const char* group, std::vector<std::string> after) {
    Service s;
    s.name = name;
    s.group = group;
    s.after = std::move(after);
    return s;
  };
  Service a = service("a", "g1", {}), b = service("b", "g2", {"a"}), c = service("c", "g3", {}),
          d = service("d", "g1", {}), e = service("e", "g2", {"c"});
  auto waves = rollout_waves({&a, &b, &c, &d, &e});
  std::vector<std::vector<std::string>> names;
  for (const auto& wave : waves) {
    names.emplace_back();
    for (const Service* s : wave) {
      names.back().push_back(s->name);
    }
  }
  // b after a; d not with a (one service at a time on g1's nodes); e after c, not with b (g2).
  CHECK(names == std::vector<std::vector<std::string>>{{"a", "c"}, {"b", "d"}, {"e"}});
}

TEST_CASE("independent services of two groups roll at the same time")
{
  Plan plan = rollout_plan("rollout-parallel", "");
  plan.services[1].after.clear(); // the workers do not wait for db
  Fakes fakes;
  deployed_releases(plan, fakes);
  std::ofstream(plan.services[0].program) << "db v2";
  std::ofstream(plan.services[1].program) << "worker v2";
  // db v2 is healthy only once a worker has restarted: one after the other, db's first
  // batch would never pass its health check.
  std::atomic<bool> worker_restarted{false};
  fakes.nodes["w1"].on_systemctl = [&](const std::string& call) {
    if (call == "restart demo-worker.service") {
      worker_restarted = true;
    }
  };
  for (const char* node : {"s1", "s2", "s3"}) {
    fakes.nodes[node].healthy_if = [&] { return worker_restarted.load(); };
  }
  fakes.order.clear();
  Output second(Color::never);
  CHECK(deploy_once(plan, fakes, second));
  CHECK(restarts_of(fakes, "demo-db.service").size() == 3);
  CHECK(restarts_of(fakes, "demo-worker.service").size() == 3);
}

TEST_CASE("a failure in one of two services rolling at the same time takes every switched node back")
{
  Plan plan = rollout_plan("rollout-parallel-stop", "", "", " serial='1'");
  plan.services[1].after.clear();
  Fakes fakes;
  auto v1 = deployed_releases(plan, fakes);
  std::ofstream(plan.services[0].program) << "db v2";
  std::ofstream(plan.services[1].program) << "worker v2";
  fakes.nodes["w1"].exec_exits["ready-check"] = 1; // the first worker never becomes ready
  fakes.order.clear();
  Output second(Color::never);
  CHECK_FALSE(deploy_once(plan, fakes, second));
  for (const auto& [name, node] : fakes.nodes) {
    INFO(name);
    CHECK(node.current == v1[name]); // db's switched nodes too
  }
  // db's nodes are back whether db had ended its roll or stopped at a batch boundary.
  CHECK(restarts_of(fakes, "demo-worker.service") == std::vector<std::string>{"w1", "w1"}); // v2, then back
  CHECK(has_row(second, "w2", "not restarted"));
}

TEST_CASE("releases.sh output: the target, its manifest and the run that made current current")
{
  auto target =
      parse_rollback_target("run r001795743000000\ntarget ab12\nfile 00ff  bin/db\nfile 11ee  units/demo-db.service\n");
  CHECK(target.id == "ab12");
  CHECK(target.run == "r001795743000000");
  CHECK(target.files.size() == 2);
  CHECK(target.files.at("bin/db") == "00ff");
  auto none = parse_rollback_target("run r1\nnone nothing earlier than release ab12 to go back to\n");
  CHECK(none.id.empty());
  CHECK(none.why_none == "nothing earlier than release ab12 to go back to");
  CHECK(parse_rollback_target("").why_none == "no answer from the node");
  CHECK(run_id().size() == 16);
  CHECK(run_id() == run_id()); // one id per command run
}
