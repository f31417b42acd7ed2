#include "deploy.hpp"
#include "fake_cluster.hpp"
#include "changes.hpp"
#include "hash.hpp"
#include "node_ops.hpp"
#include "preflight.hpp"
#include "release.hpp"
#include "test_support.hpp"

#include <algorithm>
#include <fstream>
#include <map>

using namespace deploy;
using deploy::testing::FakeCluster;
using deploy::testing::FakeNode;
using deploy::testing::FakeTransport;

namespace {

bool deploy_once(const Plan& plan, FakeCluster& fakes, Output& output)
{
  return testing::deploy_everything(plan, fakes, output);
}

/// A deploy as the CLI runs it, every node read and probed with its lock; every node's round
/// trips and service-user commands count from the lock on.
bool deploy_again_with_lock(const Plan& plan, FakeCluster& fakes)
{
  for (auto& [name, node] : fakes.nodes) {
    node.round_trips = 0;
    node.service_user_commands.clear();
  }
  Output output(Color::never);
  return testing::deploy_everything_locked(plan, fakes, output, Seconds{1});
}

} // namespace

TEST_CASE("an unchanged service whose probe passed with the lock needs no round trip of its own")
{
  Plan plan = testing::example_plan("deploy-probed-with-lock");
  FakeCluster fakes;
  Output first(Color::never);
  REQUIRE(deploy_once(plan, fakes, first));
  REQUIRE(deploy_again_with_lock(plan, fakes));
  for (auto& [name, node] : fakes.nodes) {
    INFO(name);
    CHECK(node.round_trips == 2); // the lock's (it read the node, ran the worker's probe), the unlock's
    CHECK(node.service_user_commands.size() == (name.starts_with("worker") ? 1U : 0U));
  }
  // A probe that fails with the lock is asked again, and the deploy fails on it as before.
  fakes.nodes["worker1"].exec_exits["registered"] = 1;
  CHECK_FALSE(deploy_again_with_lock(plan, fakes));
  CHECK(fakes.nodes["worker1"].service_user_commands.size() >= 2);
  CHECK(fakes.nodes["worker1"].round_trips >= 3);
}

TEST_CASE("first deploy sends every file and starts servers before workers")
{
  Plan plan = testing::example_plan("deploy-first");
  FakeCluster fakes;
  Output output(Color::never);
  REQUIRE(deploy_once(plan, fakes, output));
  CHECK(fakes.nodes["server1"].uploaded ==
        std::vector<std::string>{"bin/db", "etc/db/cluster-deploy.env", "etc/db/db.conf", "units/demo-db.service"});
  CHECK(fakes.nodes["server1"].active.count("demo-db.service"));
  CHECK(fakes.nodes["worker1"].active.count("demo-worker.service"));
  CHECK(fakes.nodes["server1"].current.size() == 16);
  // `restart` starts a unit that is not running, and starts the new release whatever ran meanwhile.
  CHECK(fakes.order == std::vector<std::string>{"server1 restart demo-db.service", "server2 restart demo-db.service",
                                                "worker1 restart demo-worker.service"});
}

TEST_CASE("a node switches and restarts its service in one step, as a transient unit of its systemd")
{
  Plan plan = testing::example_plan("deploy-switch-step");
  FakeCluster fakes;
  Output output(Color::never);
  REQUIRE(deploy_once(plan, fakes, output));
  for (const auto& name : {"server1", "worker1"}) {
    INFO(name);
    const FakeNode& node = fakes.nodes[name];
    // No systemctl.sh of its own: the restart went with the switch, so a controller lost in
    // between cannot leave `current` ahead of what runs.
    CHECK(std::count(node.commands.begin(), node.commands.end(), "systemctl.sh") == 0);
    CHECK(node.in_units == std::vector<std::string>{"activate.sh cluster-deploy-switch-demo"});
  }
  CHECK(fakes.nodes["server1"].systemctl == std::vector<std::string>{"restart demo-db.service"});
}

TEST_CASE("the look that finds a restarted service healthy records its start in the same round trip")
{
  for (int settle : {0, 1}) { // without a settle window the first look can end the wait, with one the look after it
    INFO("settle " << settle);
    Plan plan = testing::example_plan("deploy-record-with-look");
    FakeCluster fakes;
    Output output(Color::never);
    REQUIRE(testing::deploy_everything(plan, fakes, output, Seconds{settle}));
    const FakeNode& worker = fakes.nodes["worker1"];
    CHECK(worker.started.count("worker") == 1);
    CHECK(std::count(worker.commands.begin(), worker.commands.end(), "record-started.sh") == 1);
    CHECK(std::count(worker.batches.begin(), worker.batches.end(),
                     "as-service-user.sh unit-state.sh as-service-user.sh record-started.sh") == 1);
    // The db's probe is a forwarded connection, not a command: its start is recorded on its own.
    CHECK(fakes.nodes["server1"].started.count("db") == 1);
  }
}

TEST_CASE("a second deploy with nothing changed sends nothing and restarts nothing")
{
  Plan plan = testing::example_plan("deploy-twice");
  FakeCluster fakes;
  Output first(Color::never);
  REQUIRE(deploy_once(plan, fakes, first));
  for (auto& [name, node] : fakes.nodes) {
    node.uploaded.clear();
    node.systemctl.clear();
  }
  // Nothing restarts, so the settle window never applies: a settle of 1 s must not add a look.
  std::map<std::string, long> looks_without_settle;
  for (int settle : {0, 1}) {
    for (auto& [name, node] : fakes.nodes) {
      node.commands.clear();
      node.round_trips = 0;
    }
    Output quiet(Color::never);
    REQUIRE(testing::deploy_everything(plan, fakes, quiet, Seconds{settle}));
    for (auto& [name, node] : fakes.nodes) {
      INFO(name);
      // One round trip reads the release and the units; the worker's exec probe is the only
      // other (the db's tcp probe is a forwarded connection, not a command).
      CHECK(node.round_trips == (name.starts_with("worker") ? 2 : 1));
      long looks = std::count(node.commands.begin(), node.commands.end(), "unit-state.sh");
      if (settle == 0) {
        looks_without_settle[name] = looks;
        CHECK(looks == 1); // one service a node, seen running when deciding: its probe is the check
      } else {
        CHECK(looks == looks_without_settle[name]);
      }
    }
  }
  Output second(Color::never);
  REQUIRE(testing::deploy_everything(plan, fakes, second, Seconds{1}));
  for (auto& [name, node] : fakes.nodes) {
    CHECK(node.uploaded.empty());
    CHECK(node.systemctl.empty());
    CHECK(node.restarts.empty());
  }
  REQUIRE(second.rows().size() == 3); // one per node
  for (const auto& row : second.rows()) {
    CHECK(row.action == "unchanged");
  }
}

TEST_CASE("a changed config restarts only the services that use it")
{
  Plan plan = testing::example_plan("deploy-config");
  FakeCluster fakes;
  Output first(Color::never);
  REQUIRE(deploy_once(plan, fakes, first));
  for (auto& [name, node] : fakes.nodes) {
    node.uploaded.clear();
  }
  plan.inventory.nodes[2].vars["shard"] = "7"; // worker1's template value
  Output second(Color::never);
  REQUIRE(deploy_once(plan, fakes, second));
  CHECK(fakes.nodes["worker1"].uploaded == std::vector<std::string>{"etc/worker/worker.conf"});
  CHECK(fakes.nodes["worker1"].restarts["demo-worker.service"] == 1);
  CHECK(fakes.nodes["server1"].uploaded.empty());
  CHECK(fakes.nodes["server1"].restarts.empty());
}

TEST_CASE("a changed config is prepared, sent and sealed in one round trip; a first deploy sends and seals in one")
{
  Plan plan = testing::example_plan("deploy-config-one-trip");
  FakeCluster fakes;
  Output first(Color::never);
  REQUIRE(deploy_once(plan, fakes, first));
  auto& worker1 = fakes.nodes["worker1"];
  // The first deploy sends the program, the config and the unit, then seals, in one batch.
  auto first_upload = std::find(worker1.commands.begin(), worker1.commands.end(), "upload.sh");
  REQUIRE(worker1.commands.end() - first_upload >= 4);
  CHECK(std::vector<std::string>(first_upload, first_upload + 4) ==
        std::vector<std::string>{"upload.sh", "upload.sh", "upload.sh", "seal.sh"});
  CHECK(std::count(worker1.commands.begin(), worker1.commands.end(), "upload.sh") == 3);
  worker1.commands.clear();
  worker1.uploaded.clear();
  worker1.uploaded_bytes = 0;
  plan.inventory.nodes[2].vars["shard"] = "7"; // worker1's template value
  Output second(Color::never);
  REQUIRE(deploy_once(plan, fakes, second));
  CHECK(worker1.uploaded == std::vector<std::string>{"etc/worker/worker.conf"});
  CHECK(worker1.preflight_requests.size() == 1); // the first deploy's: a config change asks nothing
  CHECK(std::find(worker1.commands.begin(), worker1.commands.end(), "preflight.sh") == worker1.commands.end());
  auto prepare = std::find(worker1.commands.begin(), worker1.commands.end(), "prepare.sh");
  REQUIRE(worker1.commands.end() - prepare >= 3);
  CHECK(std::vector<std::string>(prepare, prepare + 3) == std::vector<std::string>{"prepare.sh", "upload.sh", "seal.sh"});
  auto release = render_releases(plan, {plan.inventory.find("worker1")}).at("worker1");
  const ReleaseFile* conf = nullptr;
  for (const auto& file : release.files) {
    if (file.path == "etc/worker/worker.conf") {
      conf = &file;
    }
  }
  REQUIRE(conf);
  CHECK(worker1.uploaded_bytes == local_size(*conf)); // the file's bytes, cut from the batch's input
  CHECK(worker1.manifests[worker1.current] == release.manifest);
  CHECK(worker1.restarts["demo-worker.service"] == 1);
}

TEST_CASE("an unreachable node stops the deploy before any node is changed")
{
  Plan plan = testing::example_plan("deploy-unreachable");
  FakeCluster fakes;
  fakes.unreachable.insert("server2");
  Output output(Color::never);
  CHECK_THROWS_WITH(deploy_once(plan, fakes, output),
                    "1 of 3 nodes cannot take this deploy (above); nothing was changed on any node. Fix them, or "
                    "leave them out with --node or --group");
  for (const auto& name : {"server1", "worker1"}) {
    CHECK(fakes.nodes[name].uploaded.empty());
    CHECK(fakes.nodes[name].current.empty());
    CHECK(fakes.nodes[name].systemctl.empty());
  }
  // Left out, it does not hold the others back.
  auto all = testing::everything(plan);
  std::vector<const Node*> reachable = {plan.inventory.find("server1"), plan.inventory.find("worker1")};
  testing::FakeRun run(plan, fakes, reachable);
  CHECK(run_deploy(run.cluster, all.services, render_releases(plan, reachable),
                   DeployOptions{false, HealthOptions{Seconds{5}, Seconds{0}}}));
  CHECK(fakes.nodes["server1"].active.count("demo-db.service"));
}

TEST_CASE("a node that fails preflight stops the deploy before any node is changed")
{
  Plan plan = testing::example_plan("deploy-preflight");
  FakeCluster fakes;
  fakes.nodes["worker1"].preflight_problem = "bin/worker cannot run on this node: it lacks libfoo.so.1";
  Output output(Color::never);
  CHECK_THROWS_AS(deploy_once(plan, fakes, output), Error);
  for (auto& [name, node] : fakes.nodes) {
    CHECK(node.preflight_requests.size() == 1); // every node is checked, in one round trip
    CHECK(node.uploaded.empty());
    CHECK(std::find(node.commands.begin(), node.commands.end(), "prepare.sh") == node.commands.end());
    CHECK(node.current.empty());
  }
  fakes.nodes["worker1"].preflight_problem.clear();
  Output fixed(Color::never);
  REQUIRE(deploy_once(plan, fakes, fixed));
  // A node that already has the release is not asked again: an unchanged deploy adds no round trip.
  Output again(Color::never);
  REQUIRE(deploy_once(plan, fakes, again));
  CHECK(fakes.nodes["server1"].preflight_requests.size() == 2);
}

TEST_CASE("a node this build tree has no note of is asked its preflight in the lock's round trip")
{
  Plan plan = testing::example_plan("deploy-preflight-with-lock");
  std::filesystem::remove(plan.output_dir / "deployed.txt");
  FakeCluster fakes;
  Output output(Color::never);
  REQUIRE(testing::deploy_everything_locked(plan, fakes, output, Seconds{1}));
  auto releases = render_releases(plan, testing::everything(plan).nodes);
  for (auto& [name, node] : fakes.nodes) {
    INFO(name);
    REQUIRE(node.preflight_requests.size() == 1); // asked once, for the whole release
    CHECK(node.batches.front().ends_with(" preflight.sh")); // in the lock's batch
    CHECK(std::count(node.commands.begin(), node.commands.end(), "preflight.sh") == 1);
    ChangeSet whole = compute_changes(releases.at(name), RemoteState{});
    CHECK(node.preflight_requests[0] == preflight_request(releases.at(name), whole));
  }
  // Not noted but at the release (deployed.txt lost): the step checks nothing.
  std::filesystem::remove(plan.output_dir / "deployed.txt");
  fakes.nodes["worker1"].batches.clear();
  Output unchanged(Color::never);
  REQUIRE(testing::deploy_everything_locked(plan, fakes, unchanged, Seconds{1}));
  CHECK(fakes.nodes["worker1"].batches.front().ends_with(" preflight.sh"));
  CHECK(fakes.nodes["worker1"].preflight_requests.size() == 1); // it said "current"
  // Noted now: a deploy that changes a program asks its preflight on its own, for what it sends.
  fakes.nodes["worker1"].preflight_requests.clear();
  fakes.nodes["worker1"].batches.clear();
  plan.inventory.nodes[2].vars["shard"] = "7";
  Output second(Color::never);
  REQUIRE(testing::deploy_everything_locked(plan, fakes, second, Seconds{1}));
  CHECK(fakes.nodes["worker1"].batches.front().find("preflight.sh") == std::string::npos);
}

TEST_CASE("a node this build tree has no note of gets the node scripts in the lock's round trip")
{
  Plan plan = testing::example_plan("deploy-install-with-lock");
  std::filesystem::remove(plan.output_dir / "deployed.txt");
  FakeCluster fakes;
  for (const auto& node : plan.inventory.nodes) {
    fakes.nodes[node.name].scripts_installed = false; // a fresh node, or one cleaned
  }
  Output output(Color::never);
  REQUIRE(testing::deploy_everything_locked(plan, fakes, output, Seconds{1}));
  for (auto& [name, node] : fakes.nodes) {
    INFO(name);
    REQUIRE(node.installs.size() == 1);
    CHECK(node.installs[0].find("mv -T \"$tmp\" " + installed_scripts_dir()) != std::string::npos);
    CHECK(node.batches.front().starts_with("lock.sh")); // that batch ran: no "scripts missing" first
    CHECK(std::count(node.commands.begin(), node.commands.end(), "lock.sh") == 1);
  }
  // Noted now, its scripts gone (the node rebooted: they live in /run): installed on demand.
  auto& worker1 = fakes.nodes["worker1"];
  worker1.scripts_installed = false;
  worker1.installs.clear();
  worker1.batches.clear();
  plan.inventory.nodes[2].vars["shard"] = "7";
  Output second(Color::never);
  REQUIRE(testing::deploy_everything_locked(plan, fakes, second, Seconds{1}));
  CHECK(worker1.installs.size() == 1);
  CHECK(worker1.batches.size() >= 2);
  CHECK(worker1.batches[0] == worker1.batches[1]); // its first batch found none: installed, then again
}

TEST_CASE("a node that fails the preflight asked with the lock is asked again for what it gets")
{
  Plan plan = testing::example_plan("deploy-preflight-with-lock-fails");
  std::filesystem::remove(plan.output_dir / "deployed.txt");
  FakeCluster fakes;
  fakes.nodes["worker1"].preflight_problem = "/opt has 10 KiB free; the release needs 9000 KiB more";
  Output output(Color::never);
  CHECK_THROWS_AS(testing::deploy_everything_locked(plan, fakes, output, Seconds{1}), Error);
  auto& worker1 = fakes.nodes["worker1"];
  CHECK(worker1.preflight_requests.size() == 2); // with the lock, then on its own: its own words
  CHECK(worker1.uploaded.empty());
  CHECK(fakes.nodes["server1"].preflight_requests.size() == 1);
  CHECK(fakes.nodes["server1"].uploaded.empty());
}

TEST_CASE("an upload an interrupted run left unfinished is resumed: only the rest is sent")
{
  Plan plan = testing::example_plan("deploy-resume");
  const std::string program = plan.find_service("worker")->program.string();
  auto sha = sha256_file(program);
  REQUIRE(sha);
  REQUIRE(std::filesystem::file_size(program) > 6);
  FakeCluster fakes;
  fakes.nodes["worker1"].partials[*sha] = 6; // an earlier deploy got 6 bytes of the program there
  fakes.nodes["worker1"].partials["ff00"] = 3; // a part of something this release does not have
  Output output(Color::never);
  REQUIRE(deploy_once(plan, fakes, output));
  const auto& worker1 = fakes.nodes["worker1"];
  for (std::size_t i = 0; i < worker1.uploaded.size(); ++i) {
    CHECK(worker1.uploaded_from[i] == (worker1.uploaded[i] == "bin/worker" ? 6 : 0));
  }
  CHECK(std::count(worker1.uploaded.begin(), worker1.uploaded.end(), "bin/worker") == 1);
  FakeCluster whole; // the same deploy with nothing left over
  Output quiet(Color::never);
  REQUIRE(deploy_once(plan, whole, quiet));
  CHECK(whole.nodes["worker1"].uploaded_bytes - worker1.uploaded_bytes == 6);
}

TEST_CASE("a damaged part on the node is sent again whole")
{
  Plan plan = testing::example_plan("deploy-resume-damaged");
  const std::string program = plan.find_service("worker")->program.string();
  auto sha = sha256_file(program);
  REQUIRE(sha);
  FakeCluster fakes;
  fakes.nodes["worker1"].partials[*sha] = 6;
  fakes.nodes["worker1"].partials_damaged = true;
  Output output(Color::never);
  REQUIRE(deploy_once(plan, fakes, output));
  const auto& worker1 = fakes.nodes["worker1"];
  std::vector<std::uint64_t> program_uploads;
  for (std::size_t i = 0; i < worker1.uploaded.size(); ++i) {
    if (worker1.uploaded[i] == "bin/worker") {
      program_uploads.push_back(worker1.uploaded_from[i]);
    }
  }
  CHECK(program_uploads == std::vector<std::uint64_t>{6, 0}); // resumed, found damaged, sent whole
}

TEST_CASE("down stops services in reverse order")
{
  Plan plan = testing::example_plan("deploy-down");
  FakeCluster fakes;
  Output output(Color::never);
  REQUIRE(deploy_once(plan, fakes, output));
  std::vector<const Node*> nodes = {plan.inventory.find("server1"), plan.inventory.find("worker1")};
  std::vector<const Service*> services = {&plan.services[0], &plan.services[1]};
  Output down_output(Color::never);
  Cluster cluster(plan, nodes, down_output, 1);
  cluster.connect(fakes.connector());
  REQUIRE(run_down(cluster, services));
  auto rows = down_output.rows();
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].service == "worker");
  CHECK(rows[1].service == "db");
  CHECK(fakes.nodes["server1"].active.empty());
}

TEST_CASE("a restart left undone by a filtered deploy is done by the next one")
{
  Plan plan = testing::example_plan("deploy-pending");
  FakeCluster fakes;
  Output first(Color::never);
  REQUIRE(deploy_once(plan, fakes, first));
  plan.inventory.nodes[2].vars["shard"] = "7"; // worker1's config changes ...
  std::vector<const Node*> nodes = {plan.inventory.find("worker1")};
  std::vector<const Service*> none; // ... but no service is selected for (re)start
  Output filtered(Color::never);
  Cluster cluster(plan, nodes, filtered, 1);
  cluster.connect(fakes.connector());
  REQUIRE(run_deploy(cluster, none, render_releases(plan, nodes), DeployOptions{false, {Seconds{5}, Seconds{0}}}));
  CHECK(fakes.nodes["worker1"].restarts.empty());
  Output next(Color::never);
  REQUIRE(deploy_once(plan, fakes, next));
  CHECK(fakes.nodes["worker1"].restarts["demo-worker.service"] == 1);
}

TEST_CASE("a file edited on the node is sent again instead of reused")
{
  Plan plan = testing::example_plan("deploy-drift");
  FakeCluster fakes;
  Output first(Color::never);
  REQUIRE(deploy_once(plan, fakes, first));
  fakes.nodes["worker1"].uploaded.clear();
  fakes.nodes["worker1"].edited.insert("bin/worker");
  plan.inventory.nodes[2].vars["shard"] = "7";
  Output second(Color::never);
  REQUIRE(deploy_once(plan, fakes, second));
  CHECK(fakes.nodes["worker1"].uploaded == std::vector<std::string>{"etc/worker/worker.conf", "bin/worker"});
}

TEST_CASE("a service is not started while a service it runs AFTER is healthy nowhere")
{
  Plan plan = testing::example_plan("deploy-after");
  FakeCluster fakes;
  fakes.nodes["server1"].healthy = fakes.nodes["server2"].healthy = false;
  Output output(Color::never);
  CHECK_FALSE(deploy_once(plan, fakes, output));
  CHECK(fakes.nodes["worker1"].active.empty());
  bool skipped = false;
  for (const auto& row : output.rows()) {
    skipped = skipped || (row.node == "worker1" && row.action == "skipped" && row.detail == "db is healthy on no node");
  }
  CHECK(skipped);
}

TEST_CASE("SERIAL: an unhealthy batch goes back to its release, the rest never leave theirs")
{
  Plan plan = testing::example_plan("deploy-serial");
  plan.services[0].serial.count = 1; // db
  FakeCluster fakes;
  Output first(Color::never);
  REQUIRE(deploy_once(plan, fakes, first));
  const std::string v1 = fakes.nodes["server1"].current;
  const std::string v1_server2 = fakes.nodes["server2"].current;
  std::ofstream(plan.services[0].program) << "db binary v2";
  fakes.nodes["server1"].healthy = false; // v2 does not come up on the first node
  Output second(Color::never);
  CHECK_FALSE(deploy_once(plan, fakes, second));
  // server1 restarted on v2, failed, switched back to v1 and restarted on it.
  CHECK(fakes.nodes["server1"].restarts["demo-db.service"] == 2);
  CHECK(fakes.nodes["server1"].current == v1);
  CHECK(fakes.nodes["server1"].started["db"] != "none");
  // server2 was never switched: a crash there restarts v1.
  CHECK(fakes.nodes["server2"].restarts.count("demo-db.service") == 0);
  CHECK(fakes.nodes["server2"].current == v1_server2);
  bool stopped = false, rolled_back = false;
  for (const auto& row : second.rows()) {
    stopped = stopped || (row.node == "server2" && row.action == "not restarted");
    rolled_back = rolled_back || (row.node == "server1" && row.action == "rolled back" &&
                                  row.detail.find("back on release " + v1) != std::string::npos);
  }
  CHECK(stopped);
  CHECK(rolled_back);
  // The worker, which runs AFTER db, was not touched by the stopped rollout.
  CHECK(fakes.nodes["worker1"].restarts.count("demo-worker.service") == 0);
}

TEST_CASE("up starts the stopped services in AFTER order and leaves running ones alone")
{
  Plan plan = testing::example_plan("deploy-up");
  FakeCluster fakes;
  Output output(Color::never);
  REQUIRE(deploy_once(plan, fakes, output));
  fakes.nodes["server2"].active.clear(); // db stopped on one server
  fakes.nodes["worker1"].active.clear();
  fakes.order.clear();
  auto all = testing::everything(plan);
  testing::FakeRun run(plan, fakes, all.nodes);
  REQUIRE(run_up(run.cluster, all.services, HealthOptions{Seconds{5}, Seconds{0}}));
  CHECK(fakes.order == std::vector<std::string>{"server2 start demo-db.service", "worker1 start demo-worker.service"});
  CHECK(fakes.nodes["server1"].restarts.empty());
}

TEST_CASE("clean removes every node's units and releases and keeps the data unless told")
{
  Plan plan = testing::example_plan("deploy-clean");
  FakeCluster fakes;
  Output output(Color::never);
  REQUIRE(deploy_once(plan, fakes, output));
  {
    testing::FakeRun run(plan, fakes, testing::everything(plan).nodes);
    REQUIRE(run_clean(run.cluster, false));
  }
  for (const auto& name : {"server1", "server2", "worker1"}) {
    const FakeNode& node = fakes.nodes[name];
    CHECK(node.cleaned);
    CHECK_FALSE(node.data_purged);
    CHECK(node.current.empty());
    CHECK(node.units.empty());
    CHECK(node.active.empty());
  }
  testing::FakeRun purge(plan, fakes, {plan.inventory.find("worker1")});
  REQUIRE(run_clean(purge.cluster, true));
  CHECK(fakes.nodes["worker1"].data_purged);
  CHECK_FALSE(fakes.nodes["server1"].data_purged);
}

TEST_CASE("a node whose group runs no service any more is retired - one that never ran any is left alone")
{
  Plan plan = testing::example_plan("deploy-retire");
  FakeCluster fakes;
  Output output(Color::never);
  REQUIRE(deploy_once(plan, fakes, output));
  std::erase_if(plan.services, [](const Service& s) { return s.name == "worker"; }); // workers run nothing now
  Output second(Color::never);
  REQUIRE(deploy_once(plan, fakes, second));
  CHECK(fakes.nodes["worker1"].cleaned); // units and releases removed
  CHECK_FALSE(fakes.nodes["worker1"].data_purged);
  CHECK(fakes.nodes["worker1"].active.empty());
  CHECK_FALSE(fakes.nodes["server1"].cleaned);
  FakeCluster fresh; // nothing of ours on the workers: nothing to do there
  Output third(Color::never);
  REQUIRE(deploy_once(plan, fresh, third));
  CHECK_FALSE(fresh.nodes["worker1"].cleaned);
  CHECK(fresh.nodes["worker1"].manifests.empty());
}
