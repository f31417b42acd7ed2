#include "agent_client.hpp"

#include "agent_wire.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <thread>

namespace deploy {
namespace {

class AgentTransport final : public Transport {
public:
  explicit AgentTransport(int fd) : m_fd(fd) {}
  ~AgentTransport() override
  {
    if (m_sound && write_frame(m_fd, {"release"})) { // the session goes back to the agent's pool
      // Wait (at most 5 s) until it is there, so that a run right after this one finds it.
      timeval limit{5, 0};
      ::setsockopt(m_fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
      (void)read_frame(m_fd);
    }
    ::close(m_fd);
  }
  AgentTransport(const AgentTransport&) = delete;
  AgentTransport& operator=(const AgentTransport&) = delete;

  Result<ExecResult> exec(const std::string& command, std::string_view stdin_data, Seconds timeout) override
  {
    CD_TRY(reply, call({"exec", command, std::string(stdin_data), std::to_string(timeout.count())}));
    return parse_exec_frame(*reply);
  }
  Result<ExecResult> exec_with_input(const std::string& command, const std::vector<InputPart>& input,
                                     Seconds timeout) override
  {
    Frame frame = {"exec_input", command, std::to_string(timeout.count())};
    add_input_parts(frame, input);
    CD_TRY(reply, call(frame));
    return parse_exec_frame(*reply);
  }
  Result<int> exec_streaming(const std::string& command, const ChunkSink& sink, Seconds timeout) override
  {
    if (auto sent = write_frame(m_fd, {"stream", command, std::to_string(timeout.count())}); !sent) {
      return broken(sent.error());
    }
    while (true) {
      auto frame = read_frame(m_fd);
      if (!frame || frame->empty()) {
        return broken(frame ? "empty answer" : frame.error());
      }
      if ((*frame)[0] == "chunk" && frame->size() == 2) {
        bool more = sink((*frame)[1]);
        if (auto sent = write_frame(m_fd, {more ? "more" : "stop"}); !sent) {
          return broken(sent.error());
        }
        continue;
      }
      CD_TRY(status, parse_value_frame(*frame));
      return std::atoi(status->c_str());
    }
  }
  Result<std::string> tcp_request(int port, std::string_view request, Seconds timeout) override
  {
    CD_TRY(reply, call({"tcp", std::to_string(port), std::string(request), std::to_string(timeout.count())}));
    return parse_value_frame(*reply);
  }

private:
  Failure broken(const std::string& why)
  {
    m_sound = false;
    return Failure{"warm-session agent: " + why};
  }
  Result<Frame> call(const Frame& request)
  {
    if (!m_sound) {
      return broken("the connection to the agent broke earlier");
    }
    if (auto sent = write_frame(m_fd, request); !sent) {
      return broken(sent.error());
    }
    auto reply = read_frame(m_fd);
    if (!reply || reply->empty()) {
      return broken(reply ? "empty answer" : reply.error());
    }
    return reply;
  }

  int m_fd;
  bool m_sound = true;
};

/// Starts `exe agent` detached from this process (its own session, no terminal, stdio on
/// /dev/null), so it outlives this run.
Result<void> start_agent(const std::filesystem::path& exe, const std::filesystem::path& socket, Seconds idle)
{
  pid_t child = ::fork();
  if (child < 0) {
    return fail("cannot start the warm-session agent: fork failed");
  }
  if (child == 0) {
    ::setsid();
    if (::fork() != 0) {
      ::_exit(0);
    }
    // Nothing of this run's stays open in the agent: no pipe of a caller (ctest waits for
    // its test's output to end), no folder it might delete.
    int null = ::open("/dev/null", O_RDWR);
    for (int fd : {0, 1, 2}) {
      ::dup2(null, fd);
    }
    for (int fd = 3; fd < 1024; ++fd) {
      ::close(fd);
    }
    if (::chdir("/") != 0) {
      ::_exit(127);
    }
    std::string seconds = std::to_string(idle.count());
    ::execl(exe.c_str(), "cluster-deploy", "agent", "--socket", socket.c_str(), "--idle", seconds.c_str(),
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  return {};
}

} // namespace

Result<std::filesystem::path> ensure_agent(Seconds idle)
{
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) {
    return fail("cannot find this program (/proc/self/exe): " + ec.message());
  }
  CD_TRY(socket, agent_socket(exe));
  if (auto fd = connect_agent(*socket)) {
    ::close(*fd);
    return *socket;
  }
  CD_TRY_VOID(start_agent(exe, *socket, idle));
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  std::string last;
  while (std::chrono::steady_clock::now() < deadline) {
    auto fd = connect_agent(*socket);
    if (fd) {
      ::close(*fd);
      return *socket;
    }
    last = fd.error();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return fail("the warm-session agent did not start within 5 s: " + last);
}

Result<std::unique_ptr<Transport>> connect_via_agent(const std::filesystem::path& socket, const ConnectOptions& options)
{
  CD_TRY(fd, connect_agent(socket));
  auto transport = std::make_unique<AgentTransport>(*fd);
  if (auto sent = write_frame(*fd, connect_frame(options)); !sent) {
    return fail("warm-session agent: " + sent.error());
  }
  auto reply = read_frame(*fd);
  if (!reply || reply->empty()) {
    return fail("warm-session agent: " + (reply ? std::string("empty answer") : reply.error()));
  }
  if (reply->size() != 1 || (*reply)[0] != "ok") {
    return fail(reply->size() == 2 ? (*reply)[1] : "the agent answered nonsense");
  }
  return std::unique_ptr<Transport>(std::move(transport));
}

} // namespace deploy
