#include "fake_transport.hpp"
#include "node_ops.hpp"

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

TEST_CASE("unit-state.sh's output becomes a UnitState")
{
  auto state =
      parse_unit_state("LoadState=loaded\nActiveState=active\nSubState=running\nMainPID=77\nNRestarts=3\nUptime=12\n");
  CHECK(state.running());
  CHECK(state.loaded);
  CHECK(state.main_pid == 77);
  CHECK(state.restarts == 3);
  CHECK(state.uptime_seconds == 12);
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
