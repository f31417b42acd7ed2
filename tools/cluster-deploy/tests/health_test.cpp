#include "health.hpp"
#include "fake_transport.hpp"
#include "test_support.hpp"

#include <catch2/catch.hpp>

using namespace deploy;

TEST_CASE("http health accepts 2xx only")
{
  CHECK(http_status_ok("HTTP/1.0 200 OK\r\n\r\n"));
  CHECK(http_status_ok("HTTP/1.1 204 No Content\r\n"));
  CHECK_FALSE(http_status_ok("HTTP/1.1 503 Service Unavailable\r\n"));
  CHECK_FALSE(http_status_ok("SSH-2.0-OpenSSH_9.2"));
  CHECK_FALSE(http_status_ok(""));
}

namespace {

/// A node whose unit is seen as the given looks, one per unit-state.sh (the last one
/// repeats), active for `uptime_ms` when running (-1: not said), and whose HTTP probe answers 200.
class LooksTransport final : public Transport {
public:
  explicit LooksTransport(std::vector<std::pair<long, long>> looks, long uptime_ms = -1)
      : m_looks(std::move(looks)), m_uptime_ms(uptime_ms)
  {
  }
  Result<ExecResult> exec(const std::string& command, std::string_view, Seconds) override
  {
    REQUIRE(command.find("unit-state.sh") != std::string::npos);
    auto [pid, restarts] = m_looks[std::min(looks, m_looks.size() - 1)];
    ++looks;
    std::string state = pid == 0 ? "ActiveState=activating\nSubState=auto-restart\n"
                                 : "ActiveState=active\nSubState=running\n";
    if (pid != 0 && m_uptime_ms >= 0) {
      state += "UptimeMs=" + std::to_string(m_uptime_ms) + "\n";
    }
    return ExecResult{0, "",
                      state + "MainPID=" + std::to_string(pid) + "\nNRestarts=" + std::to_string(restarts) + "\n",
                      ""};
  }
  Result<ExecResult> exec_with_input(const std::string&, const std::vector<InputPart>&, Seconds) override
  {
    return fail("not used");
  }
  Result<int> exec_streaming(const std::string&, const ChunkSink&, Seconds) override { return fail("not used"); }
  Result<std::string> tcp_request(int, std::string_view, Seconds) override
  {
    ++probes;
    return std::string("HTTP/1.0 200 OK\r\n\r\n");
  }

  std::size_t looks = 0;
  int probes = 0;

private:
  std::vector<std::pair<long, long>> m_looks; ///< MainPID (0: not running), NRestarts
  long m_uptime_ms;
};

struct HealthCase {
  Plan plan = testing::example_plan("health");
  const Service& db = *plan.find_service("db");
  const Node& node = *plan.inventory.find("server1");
};

} // namespace

TEST_CASE("the settle window runs from the first look that saw the process and is not slept again")
{
  HealthCase c;
  LooksTransport node({{10, 0}});
  NodeOps ops(node, "server1", NodeLayout{"demo"});
  REQUIRE(wait_healthy(ops, c.plan, c.node, c.db, HealthOptions{Seconds{10}, Seconds{1}}));
  CHECK(node.looks == 2); // the first look, and one when the window has passed
  CHECK(node.probes == 2);
}

TEST_CASE("the settle window of a process this run started counts from its start as systemd says, not before the request")
{
  HealthCase c;
  HealthOptions options{Seconds{10}, Seconds{1}};
  SECTION("active for longer than the window since the request: one look")
  {
    LooksTransport node({{10, 0}}, 5000);
    NodeOps ops(node, "server1", NodeLayout{"demo"});
    options.requested = std::chrono::steady_clock::now() - Seconds{6};
    REQUIRE(wait_healthy(ops, c.plan, c.node, c.db, options));
    CHECK(node.looks == 1);
  }
  SECTION("active since before the request (maybe the old process, not stopped yet): watched from the request")
  {
    LooksTransport node({{10, 0}}, 5000);
    NodeOps ops(node, "server1", NodeLayout{"demo"});
    options.requested = std::chrono::steady_clock::now();
    REQUIRE(wait_healthy(ops, c.plan, c.node, c.db, options));
    CHECK(node.looks == 2);
  }
  SECTION("no request known (a service this run did not start): from the first look")
  {
    LooksTransport node({{10, 0}}, 5000);
    NodeOps ops(node, "server1", NodeLayout{"demo"});
    REQUIRE(wait_healthy(ops, c.plan, c.node, c.db, options));
    CHECK(node.looks == 2);
  }
}

TEST_CASE("looks come less often while many nodes are waited on at once")
{
  using std::chrono::milliseconds;
  CHECK(longest_look_pause(1) == milliseconds(1000));
  CHECK(longest_look_pause(50) == milliseconds(1000));
  CHECK(longest_look_pause(100) == milliseconds(2000));
  CHECK(longest_look_pause(1000) == milliseconds(3000));
}

TEST_CASE("a process that is replaced while settling is watched anew, and one never steady fails")
{
  HealthCase c;
  SECTION("replaced once")
  {
    LooksTransport node({{10, 0}, {11, 1}});
    NodeOps ops(node, "server1", NodeLayout{"demo"});
    REQUIRE(wait_healthy(ops, c.plan, c.node, c.db, HealthOptions{Seconds{10}, Seconds{1}}));
    CHECK(node.looks == 3); // pid 10 watched; pid 11 seen after the window: watched anew
  }
  SECTION("replaced at every look")
  {
    std::vector<std::pair<long, long>> looks;
    for (long i = 1; i < 100; ++i) {
      looks.emplace_back(10 + i, i);
    }
    LooksTransport node(looks);
    NodeOps ops(node, "server1", NodeLayout{"demo"});
    auto healthy = wait_healthy(ops, c.plan, c.node, c.db, HealthOptions{Seconds{2}, Seconds{1}});
    REQUIRE_FALSE(healthy);
    CHECK(healthy.error().find("restarted while settling") != std::string::npos);
  }
  SECTION("not running: looks come again soon, and the probe is not tried")
  {
    LooksTransport node({{0, 0}, {0, 0}, {12, 0}});
    NodeOps ops(node, "server1", NodeLayout{"demo"});
    REQUIRE(wait_healthy(ops, c.plan, c.node, c.db, HealthOptions{Seconds{10}, Seconds{0}}));
    CHECK(node.looks == 3);
    CHECK(node.probes == 1);
  }
}

TEST_CASE("an exec probe waits on the node and rides with the look at the unit: one round trip a look")
{
  Plan plan = testing::example_plan("health-exec");
  const Service& worker = *plan.find_service("worker");
  testing::FakeNode fake;
  fake.scripts_installed = true;
  fake.active.insert(plan.cluster + "-worker.service");
  int asked = 0;
  fake.service_user_answer = [&](const std::string& command, std::string&) {
    ++asked;
    return command.starts_with("test -s ") && asked >= 3 ? 0 : 1; // registered during the second look's wait
  };
  testing::FakeTransport transport(fake);
  NodeOps ops(transport, "worker1", NodeLayout{plan.cluster});
  REQUIRE(wait_healthy(ops, plan, *plan.inventory.find("worker1"), worker, HealthOptions{Seconds{10}, Seconds{0}}));
  CHECK(asked == 4); // each look: the wait on the node, then the probe again after the unit's state
  CHECK(fake.round_trips == 2);
  // The node waits as long as the controller would have paused: 0.2 s, then twice that.
  CHECK(fake.awaits == std::vector<std::string>{"200", "400"});
}

TEST_CASE("a look after the window since the start was asked for records it if the node says it is that old, not older")
{
  Plan plan = testing::example_plan("health-record-after-window");
  const Service& worker = *plan.find_service("worker");
  // Active 1.5 s, asked for 3 s ago: the process this run started, through its 1 s window.
  // Active 4 s: an older process than the one asked for (its restart still queued): not recorded.
  for (long active_ms : {1500L, 4000L}) {
    INFO("active " << active_ms << " ms");
    testing::FakeNode fake;
    fake.scripts_installed = true;
    fake.active.insert(plan.cluster + "-worker.service");
    fake.active_ms = active_ms;
    testing::FakeTransport transport(fake);
    NodeOps ops(transport, "worker1", NodeLayout{plan.cluster});
    HealthOptions options{Seconds{10}, Seconds{1}};
    options.requested = std::chrono::steady_clock::now() - std::chrono::seconds(3);
    options.record = "d1";
    REQUIRE(wait_healthy(ops, plan, *plan.inventory.find("worker1"), worker, options));
    REQUIRE_FALSE(fake.batches.empty());
    CHECK(fake.batches.front().ends_with(" record-started.sh")); // asked in the first look
    CHECK(fake.started.count("worker") == (active_ms < 3000 ? 1U : 0U));
  }
}
