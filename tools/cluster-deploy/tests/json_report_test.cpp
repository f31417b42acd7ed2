// --json: what a script reading status, the dry run and the summary gets.
#include "deploy.hpp"
#include "fake_cluster.hpp"
#include "json_report.hpp"
#include "status.hpp"
#include "test_support.hpp"

#include <nlohmann/json.hpp>

using namespace deploy;
using deploy::testing::FakeCluster;
using nlohmann::json;

namespace {

/// Deploys (or dry-runs) with --json; returns stdout parsed.
json deploy_json(const Plan& plan, FakeCluster& fakes, bool dry_run)
{
  auto run = testing::everything(plan);
  std::string text = testing::capture_stdout([&] {
    Output output(Color::never, Format::json);
    Cluster cluster(plan, run.nodes, output, 4);
    cluster.connect(fakes.connector());
    try {
      run_deploy(cluster, run.services, render_releases(plan, run.nodes),
                 DeployOptions{dry_run, HealthOptions{Seconds{5}, Seconds{0}}});
    } catch (const Error&) { // refused before any change (exit 2): the JSON was printed first
    }
  });
  return json::parse(text); // throws (and fails the test) unless stdout is exactly one JSON document
}

const json& node_named(const json& document, const std::string& name)
{
  for (const auto& node : document.at("nodes")) {
    if (node.at("name") == name) {
      return node;
    }
  }
  FAIL("no node " << name << " in " << document.dump());
  throw std::logic_error("unreachable");
}

} // namespace

TEST_CASE("the dry run's JSON lists per node the files to send and the services to restart")
{
  Plan plan = testing::example_plan("json-dry-run");
  FakeCluster fakes;
  fakes.unreachable.insert("server2");
  auto first = deploy_json(plan, fakes, true);
  CHECK(first.at("command") == "deploy");
  CHECK(first.at("dry_run") == true);
  CHECK(first.at("cluster") == "demo");
  CHECK(first.at("ok") == false);                 // server2 is unreachable
  CHECK(fakes.nodes["server1"].uploaded.empty()); // a dry run sends nothing
  CHECK(fakes.nodes["server1"].systemctl.empty());

  const json& server1 = node_named(first, "server1");
  CHECK(server1.at("reachable") == true);
  CHECK(server1.at("changed") == true);
  std::vector<std::string> paths;
  for (const auto& file : server1.at("send")) {
    paths.push_back(file.at("path"));
  }
  CHECK(paths ==
        std::vector<std::string>{"bin/db", "etc/db/cluster-deploy.env", "etc/db/db.conf", "units/demo-db.service"});
  CHECK(server1.at("send").at(0).at("bytes") == std::string("db binary v1").size());
  CHECK(server1.at("units_to_install") == json::array({"demo-db.service"}));
  CHECK(server1.at("restart") == json::array({"db"}));
  CHECK(server1.at("release").get<std::string>().size() == 16);

  const json& server2 = node_named(first, "server2");
  CHECK(server2.at("reachable") == false);
  CHECK(server2.at("error") == "10.0.0.2: connection refused");

  // Deployed for real, then a config change: only worker1's config is to send.
  fakes.unreachable.clear();
  deploy_json(plan, fakes, false);
  plan.inventory.nodes[2].vars["shard"] = "7";
  auto second = deploy_json(plan, fakes, true);
  CHECK(second.at("ok") == true);
  CHECK(node_named(second, "server1").at("changed") == false);
  CHECK(node_named(second, "server1").at("send").empty());
  const json& worker1 = node_named(second, "worker1");
  CHECK(worker1.at("send").size() == 1);
  CHECK(worker1.at("send").at(0).at("path") == "etc/worker/worker.conf");
  CHECK(worker1.at("reuse") == json::array({"bin/worker", "units/demo-worker.service"}));
  CHECK(worker1.at("restart") == json::array({"worker"}));
}

TEST_CASE("the deploy summary's JSON has one result per node and service and says whether anything changed")
{
  Plan plan = testing::example_plan("json-summary");
  FakeCluster fakes;
  auto first = deploy_json(plan, fakes, false);
  CHECK(first.at("command") == "deploy");
  CHECK(first.at("ok") == true);
  CHECK(first.at("changed") == true);
  REQUIRE(first.at("results").size() == 3);
  for (const auto& row : first.at("results")) {
    CHECK(row.at("action") == "started");
    CHECK(row.at("ok") == true);
    CHECK(row.at("detail").is_null());
    CHECK(row.at("seconds").is_number());
  }
  auto second = deploy_json(plan, fakes, false);
  CHECK(second.at("changed") == false);
  CHECK(second.at("results").at(0).at("action") == "unchanged");

  fakes.unreachable.insert("worker1");
  auto third = deploy_json(plan, fakes, false);
  CHECK(third.at("ok") == false);
  bool reported = false;
  for (const auto& row : third.at("results")) {
    reported = reported || (row.at("node") == "worker1" && row.at("service").is_null() && row.at("ok") == false &&
                            row.at("action") == "connect" && row.at("detail") == "10.0.0.11: connection refused");
  }
  CHECK(reported);
}

TEST_CASE("status JSON has every node with its release, drift and services' systemd state")
{
  Plan plan = testing::example_plan("json-status");
  FakeCluster fakes;
  deploy_json(plan, fakes, false);
  fakes.nodes["worker1"].active.clear(); // worker stopped after an OOM kill
  fakes.nodes["worker1"].results["demo-worker.service"] = "oom-kill";
  fakes.nodes["worker1"].failures["demo-worker.service"] = {"oom-kill", "oom-kill"};
  fakes.nodes["server1"].edited.insert("etc/db/db.conf");
  fakes.unreachable.insert("server2");
  auto run = testing::everything(plan);
  Output output(Color::never, Format::json);
  Cluster cluster(plan, run.nodes, output, 4);
  cluster.connect(fakes.connector());
  std::string text;
  bool ok = true;
  text = testing::capture_stdout([&] { ok = run_status(cluster, run.services); });
  CHECK_FALSE(ok);
  json document = json::parse(text);
  CHECK(text.starts_with("{\n  \"version\": \"" CLUSTER_DEPLOY_VERSION "\",\n")); // which helper wrote it, first
  CHECK(document.at("command") == "status");
  CHECK(document.at("ok") == false);
  REQUIRE(document.at("nodes").size() == 3);

  const json& server1 = node_named(document, "server1");
  CHECK(server1.at("address") == "10.0.0.1");
  CHECK(server1.at("group") == "servers");
  CHECK(server1.at("release") == fakes.nodes["server1"].current);
  CHECK(server1.at("drift") == json::array({"etc/db/db.conf"}));
  REQUIRE(server1.at("services").size() == 1);
  const json& db = server1.at("services").at(0);
  CHECK(db.at("name") == "db");
  CHECK(db.at("running") == true);
  CHECK(db.at("active") == "active");
  CHECK(db.at("sub") == "running");
  CHECK(db.at("result") == "success");
  CHECK(db.at("pid") == 42);
  CHECK(db.at("restarts") == 0);

  const json& worker = node_named(document, "worker1").at("services").at(0);
  CHECK(worker.at("running") == false);
  CHECK(worker.at("active") == "inactive");
  CHECK(worker.at("result") == "oom-kill");
  CHECK(worker.at("failures") == json::array({"oom-kill", "oom-kill"}));
  CHECK(db.at("failures") == json::array());
  CHECK(worker.at("pid").is_null());

  const json& server2 = node_named(document, "server2");
  CHECK(server2.at("reachable") == false);
  CHECK(server2.at("error") == "10.0.0.2: connection refused");
  CHECK(server2.at("services").empty());
  CHECK(server2.at("release").is_null());
}

TEST_CASE("JSON text from nodes with invalid UTF-8 is still valid JSON")
{
  auto text = summary_json("up", "demo", {SummaryRow{"n1", "-", "start", false, "bad \xff byte", 0.5}}, std::nullopt);
  auto document = json::parse(text);
  CHECK(document.at("results").at(0).at("detail").get<std::string>().starts_with("bad "));
  CHECK_FALSE(document.contains("changed"));
}
