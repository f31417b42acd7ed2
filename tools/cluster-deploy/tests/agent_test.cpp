#include "agent.hpp"
#include "agent_client.hpp"
#include "agent_wire.hpp"

#include <catch2/catch.hpp>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <thread>

using namespace deploy;

namespace {

/// A session that answers from what it is sent; `alive` false makes every exec fail.
class EchoTransport final : public Transport {
public:
  explicit EchoTransport(std::atomic<bool>& alive) : m_alive(alive) {}
  Result<ExecResult> exec(const std::string& command, std::string_view stdin_data, Seconds) override
  {
    if (!m_alive) {
      return fail("connection lost");
    }
    return ExecResult{command == "false" ? 1 : 0, "", "ran " + command + " with " + std::string(stdin_data), "e"};
  }
  Result<ExecResult> exec_with_input(const std::string& command, const std::vector<InputPart>& input, Seconds) override
  {
    std::string out = command;
    for (const auto& part : input) {
      out += part.file.empty() ? " < " + std::string(part.bytes) : " < " + part.file.string() + " from " + std::to_string(part.from);
    }
    return ExecResult{0, "", out, ""};
  }
  Result<int> exec_streaming(const std::string&, const ChunkSink& sink, Seconds) override
  {
    for (const char* chunk : {"one", "two", "three"}) {
      if (!sink(chunk)) {
        return -1;
      }
    }
    return 0;
  }
  Result<std::string> tcp_request(int port, std::string_view request, Seconds) override
  {
    return "port " + std::to_string(port) + ": " + std::string(request);
  }

private:
  std::atomic<bool>& m_alive;
};

/// An agent on a socket in a fresh private folder, served by a thread; it must exit by
/// itself (idle) for the destructor to return.
struct RunningAgent {
  explicit RunningAgent(Seconds idle)
  {
    char dir_template[] = "/tmp/cluster-deploy-agent-test.XXXXXX";
    dir = ::mkdtemp(dir_template);
    socket = dir / "agent.sock";
    thread = std::thread([this, idle] {
      result = run_agent(socket, idle, [this](const ConnectOptions& options) -> Result<std::unique_ptr<Transport>> {
        ++opened;
        last_host = options.host;
        return std::unique_ptr<Transport>(std::make_unique<EchoTransport>(alive));
      });
    });
    for (int i = 0; i < 250; ++i) { // up within 5 s
      if (auto fd = connect_agent(socket)) {
        ::close(*fd); // a client that says nothing: the agent drops it at once
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  ~RunningAgent()
  {
    if (thread.joinable()) {
      thread.join();
    }
    std::filesystem::remove_all(dir);
  }
  ConnectOptions node(const std::string& host = "10.0.0.1")
  {
    ConnectOptions options;
    options.host = host;
    options.port = 22;
    options.user = "deploy";
    return options;
  }

  std::filesystem::path dir;
  std::filesystem::path socket;
  std::thread thread;
  std::atomic<int> result{-1};
  std::atomic<int> opened{0};
  std::atomic<bool> alive{true};
  std::string last_host;
};

} // namespace

TEST_CASE("the warm-session agent lends one session to runs one after another and passes every call through")
{
  RunningAgent agent(Seconds{1});
  for (int run = 0; run < 3; ++run) {
    auto transport = connect_via_agent(agent.socket, agent.node());
    REQUIRE(transport);
    auto ran = (*transport)->exec("echo", "input", Seconds{5});
    REQUIRE(ran);
    CHECK(ran->out == "ran echo with input");
    CHECK(ran->err == "e");
    CHECK(ran->exit_status == 0);
    CHECK((*transport)->exec("false", "", Seconds{5})->exit_status == 1);
    CHECK((*transport)->exec_with_input("cat > x", {{"/tmp/f", 7}, {"manifest"}}, Seconds{5})->out ==
          "cat > x < /tmp/f from 7 < manifest");
    CHECK(*(*transport)->tcp_request(2379, "GET /health", Seconds{5}) == "port 2379: GET /health");
    std::string streamed;
    auto stopped = (*transport)->exec_streaming(
        "journalctl -f",
        [&](std::string_view chunk) {
          streamed += chunk;
          return streamed.size() < 6;
        },
        Seconds{0});
    REQUIRE(stopped);
    CHECK(*stopped == -1);
    CHECK(streamed == "onetwo");
  }
  CHECK(agent.opened == 1);
  CHECK(agent.last_host == "10.0.0.1");
  auto other = connect_via_agent(agent.socket, agent.node("10.0.0.2")); // another node: its own session
  REQUIRE(other);
  CHECK(agent.opened == 2);
}

TEST_CASE("a client that goes away without giving its session back takes the session with it")
{
  RunningAgent agent(Seconds{1});
  {
    auto fd = connect_agent(agent.socket);
    REQUIRE(fd);
    REQUIRE(write_frame(*fd, connect_frame(agent.node())));
    auto reply = read_frame(*fd);
    REQUIRE(reply);
    CHECK(reply->at(0) == "ok");
    ::close(*fd); // killed mid-run: no "release"
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  REQUIRE(connect_via_agent(agent.socket, agent.node()));
  CHECK(agent.opened == 2); // the node's sshd session (and so its lock) went with the client
}

TEST_CASE("a pooled session that fails its check is not lent again")
{
  RunningAgent agent(Seconds{1});
  REQUIRE(connect_via_agent(agent.socket, agent.node()));
  agent.alive = false; // the node rebooted
  auto again = connect_via_agent(agent.socket, agent.node());
  REQUIRE(again);
  CHECK(agent.opened == 2);
  agent.alive = true;
}

TEST_CASE("one agent a socket and it removes its socket once idle")
{
  RunningAgent agent(Seconds{1});
  CHECK(run_agent(agent.socket, Seconds{1}, nullptr) == 1); // the first one has it
  REQUIRE(connect_via_agent(agent.socket, agent.node()));
  agent.thread.join(); // returns about a second after the last client
  CHECK(agent.result == 0);
  CHECK_FALSE(std::filesystem::exists(agent.socket));
  auto late = connect_agent(agent.socket);
  CHECK_FALSE(late);
  if (late) {
    ::close(*late);
  }
}
