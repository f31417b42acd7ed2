#include "fake_transport.hpp"
#include "node_ops.hpp"
#include "quote.hpp"
#include "test_support.hpp"

#include <fstream>

#include <catch2/catch.hpp>

using namespace deploy;

TEST_CASE("root_command passes arguments as single words")
{
  auto words = testing::split_quoted(root_command(remote::current, {";touch /tmp/x", "a b"}));
  REQUIRE(words.size() == 12);
  CHECK(words[5] == "CLUSTER_DEPLOY_RUN=" + run_id()); // renews this run's lock on the node
  CHECK(words[8] == remote::current.text);
  CHECK(words[9] == "current.sh"); // $0: what the shell names in its errors
  CHECK(words[10] == ";touch /tmp/x");
  CHECK(words[11] == "a b");
}

TEST_CASE("installed_command names the installed script and passes arguments as single words")
{
  auto words = testing::split_quoted(installed_command(remote::current, {";touch /tmp/x", "a b"}));
  REQUIRE(words.size() == 12);
  CHECK(words[5] == "CLUSTER_DEPLOY_RUN=" + run_id());
  CHECK(words[9] == installed_scripts_dir() + "/current.sh"); // $0 of the script: named in its errors
  CHECK(installed_scripts_dir() == "/run/cluster-deploy/scripts/" + scripts_id());
  CHECK(words[10] == ";touch /tmp/x");
  CHECK(words[11] == "a b");
  CHECK(installed_command(remote::state, {"c"}).find(remote::state.text) == std::string::npos); // no text sent
}

TEST_CASE("a switch names the installed detach.sh and the script it runs as a transient unit")
{
  auto words = testing::split_quoted(installed_command(remote::activate, {"c", "r1"}, "cluster-deploy-switch-c"));
  REQUIRE(words.size() == 14);
  CHECK(words[9] == installed_scripts_dir() + "/detach.sh"); // it runs activate.sh from beside it
  CHECK(words[10] == "cluster-deploy-switch-c");
  CHECK(words[11] == "activate.sh");
  CHECK(words[12] == "c");
  CHECK(words[13] == "r1");
  auto command = installed_command(remote::activate, {"c", "r1"}, "cluster-deploy-switch-c");
  CHECK(command.find(remote::activate.text) == std::string::npos); // arguments, not programs
  CHECK(command.find(remote::detach.text) == std::string::npos);
}

TEST_CASE("a switch on a node without this helper's scripts installs them, then runs as a unit")
{
  testing::FakeNode node;
  node.scripts_installed = false;
  testing::FakeTransport transport(node);
  NodeOps ops(transport, "n1", NodeLayout{"demo"});
  NodeRelease release;
  release.id = "r1";
  REQUIRE(ops.activate(release, ChangeSet{}, "deploy", {}));
  CHECK(node.installs.size() == 1);
  CHECK(node.in_units == std::vector<std::string>{"activate.sh cluster-deploy-switch-demo"}); // once, installed
}

TEST_CASE("a node without this helper's scripts gets them once, then every call names them")
{
  testing::FakeNode node;
  node.scripts_installed = false;
  testing::FakeTransport transport(node);
  NodeOps ops(transport, "n1", NodeLayout{"demo"});
  REQUIRE(ops.systemctl("restart", "db"));       // the loader says 199: install, then again
  REQUIRE(ops.unit_state("db"));                  // installed: one round trip
  REQUIRE(ops.read_node({"db"}));                 // a batch: its steps find them too
  REQUIRE(node.installs.size() == 1);
  CHECK(node.round_trips == 5);
  for (const remote::Script* script : remote::all) { // every script, written by sh's own printf
    std::string body = std::string(script->text) + (std::string_view(script->text).ends_with("\n") ? "" : "\n");
    CHECK(node.installs[0].find("printf '%s' " + shell_quote(body) + " >\"$tmp/" + script->name + "\"\n") !=
          std::string::npos);
  }
  CHECK(node.installs[0].find("mv -T \"$tmp\" " + installed_scripts_dir()) != std::string::npos);
  CHECK(node.systemctl == std::vector<std::string>{"restart demo-db.service"}); // once, after the install
}

TEST_CASE("unit-state.sh's output becomes a UnitState")
{
  auto state =
      parse_unit_state("LoadState=loaded\nActiveState=active\nSubState=running\nMainPID=77\nNRestarts=3\nUptime=12\nUptimeMs=12345\n");
  CHECK(state.running());
  CHECK(state.loaded);
  CHECK(state.main_pid == 77);
  CHECK(state.restarts == 3);
  CHECK(state.uptime_seconds == 12);
  CHECK(state.uptime_ms == 12345);
  CHECK_FALSE(parse_unit_state("ActiveState=activating\nSubState=auto-restart\n").running());
  auto oom = parse_unit_state("ActiveState=activating\nSubState=auto-restart\nResult=oom-kill\n"
                              "Failure=exit-code\nFailure=oom-kill\n");
  CHECK(oom.result == "oom-kill");
  CHECK(oom.failures == std::vector<std::string>{"exit-code", "oom-kill"});
}

TEST_CASE("state.sh's output is parsed")
{
  auto state = parse_remote_state("current abc\nrelease abc\nrelease old\nfile 111  bin/db\nunit 222 c-db.service\n");
  CHECK(state.current_id == "abc");
  CHECK(state.releases == std::set<std::string>{"abc", "old"});
  CHECK(state.files.at("bin/db") == "111");
  CHECK(state.units.at("c-db.service") == "222");
  CHECK(parse_remote_state("current \n").current_id.empty());
}

/// Three files of a release, one larger than a pipe or a read buffer, on a fake node.
struct ThreeFiles {
  explicit ThreeFiles(const std::string& name) : dir(testing::scratch_dir(name))
  {
    std::ofstream(dir / "big") << std::string(17 * 1024 * 1024, 'b');
    std::ofstream(dir / "a") << "aaaa";
    std::ofstream(dir / "conf") << "x=1\n";
    release.id = "0123456789ab";
    release.manifest = "the manifest\n";
  }
  std::filesystem::path dir;
  std::vector<ReleaseFile> files = {{"bin/big", dir / "big", "bb", {"svc"}},
                                    {"lib/svc/a.so", dir / "a", "aa", {"svc"}},
                                    {"etc/svc/svc.conf", dir / "conf", "cc", {"svc"}}};
  std::vector<const ReleaseFile*> all = {&files[0], &files[1], &files[2]};
  NodeRelease release;
  testing::FakeNode node;
  testing::FakeTransport transport{node};
  NodeOps ops{transport, "n1", NodeLayout{"demo"}};
};

TEST_CASE("a node's files and its seal go in one round trip, a large file among them")
{
  ThreeFiles c("send-and-seal");
  auto again = c.ops.send_and_seal(c.release, c.all);
  REQUIRE(again);
  CHECK(again->empty());
  CHECK(c.node.round_trips == 1);
  CHECK(c.node.uploaded == std::vector<std::string>{"bin/big", "lib/svc/a.so", "etc/svc/svc.conf"}); // in this order
  CHECK(c.node.uploaded_bytes == 17 * 1024 * 1024 + 8); // each step read its own bytes
  CHECK(c.node.manifests.at("0123456789ab") == "the manifest\n"); // after the files' bytes
}

TEST_CASE("a take from the controller: every file in one round trip, in order")
{
  ThreeFiles c("take-trips");
  REQUIRE(c.ops.take(c.release, c.all, nullptr, ""));
  CHECK(c.node.round_trips == 1);
  CHECK(c.node.uploaded == std::vector<std::string>{"bin/big", "lib/svc/a.so", "etc/svc/svc.conf"}); // in this order
  CHECK(c.node.uploaded_bytes == 17 * 1024 * 1024 + 8);
}
