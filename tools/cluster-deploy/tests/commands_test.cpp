#include "commands.hpp"
#include "fake_transport.hpp"
#include "health.hpp"
#include "node_ops.hpp"

#include <catch2/catch.hpp>

using namespace deploy;

TEST_CASE("root_command passes arguments as single words")
{
  auto words = testing::split_quoted(root_command("echo \"$1\"", {";touch /tmp/x", "a b"}));
  REQUIRE(words.size() == 10);
  CHECK(words[6] == "echo \"$1\"");
  CHECK(words[8] == ";touch /tmp/x");
  CHECK(words[9] == "a b");
}

TEST_CASE("systemctl show output becomes a UnitState")
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

TEST_CASE("http health accepts 2xx only")
{
  CHECK(http_status_ok("HTTP/1.0 200 OK\r\n\r\n"));
  CHECK(http_status_ok("HTTP/1.1 204 No Content\r\n"));
  CHECK_FALSE(http_status_ok("HTTP/1.1 503 Service Unavailable\r\n"));
  CHECK_FALSE(http_status_ok("SSH-2.0-OpenSSH_9.2"));
  CHECK_FALSE(http_status_ok(""));
}

TEST_CASE("logs from several nodes are merged by time and each line names its node")
{
  auto merged = merge_by_time({{"n1", "2026-11-26T10:00:02.000000+0000 n1 b"},
                               {"n2", "2026-11-26T10:00:01.000000+0000 n2 a"},
                               {"n1", "2026-11-26T10:00:03.000000+0000 n1 c"}});
  CHECK(merged == std::vector<std::string>{"n2 | 2026-11-26T10:00:01.000000+0000 n2 a",
                                           "n1 | 2026-11-26T10:00:02.000000+0000 n1 b",
                                           "n1 | 2026-11-26T10:00:03.000000+0000 n1 c"});
}
