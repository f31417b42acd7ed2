#include "agent.hpp"

#include <poll.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <chrono>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

namespace deploy {
namespace {

using Clock = std::chrono::steady_clock;

/// Sessions not lent to a client, by what they were opened with.
class Pool {
public:
  std::unique_ptr<Transport> take(const std::string& key)
  {
    std::lock_guard lock(m_mutex);
    auto it = m_idle.find(key);
    if (it == m_idle.end()) {
      return nullptr;
    }
    auto transport = std::move(it->second);
    m_idle.erase(it);
    return transport;
  }
  void give(const std::string& key, std::unique_ptr<Transport> transport)
  {
    std::lock_guard lock(m_mutex);
    m_idle.emplace(key, std::move(transport));
  }

private:
  std::mutex m_mutex;
  std::multimap<std::string, std::unique_ptr<Transport>> m_idle;
};

/// What a session was opened with, and the state of the files that decided whom it trusts:
/// an edited ssh_config or known_hosts makes new sessions.
std::string pool_key(const Frame& connect)
{
  std::string key;
  for (const auto& field : connect) {
    key += field;
    key += '\0';
  }
  const char* home = std::getenv("HOME");
  std::string own = home ? home : "";
  for (const std::string& file : {connect.at(4), connect.at(5), own + "/.ssh/config", own + "/.ssh/known_hosts",
                                  std::string("/etc/ssh/ssh_config")}) {
    struct stat st {};
    if (!file.empty() && ::stat(file.c_str(), &st) == 0) {
      key += file + "@" + std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec) + ":" +
             std::to_string(st.st_size) + '\0';
    }
  }
  return key;
}

/// A streaming exec: each chunk goes to the client, which answers "more" to go on. Returns the
/// reply frame, or nothing when the client went away; `sound` turns false when the transport failed.
std::optional<Frame> stream(int fd, Transport& transport, const std::string& command, Seconds timeout, bool& sound)
{
  bool client_gone = false;
  auto result = transport.exec_streaming(
      command,
      [&](std::string_view chunk) {
        auto more = write_frame(fd, {"chunk", std::string(chunk)}) ? read_frame(fd) : Result<Frame>{fail("gone")};
        client_gone = !more;
        return more && !more->empty() && (*more)[0] == "more";
      },
      timeout);
  if (client_gone) {
    return std::nullopt;
  }
  sound = sound && result.ok();
  return result ? Frame{"ok", std::to_string(*result)} : Frame{"error", result.error()};
}

/// A pooled session of `key`, checked, or a new one.
Result<std::unique_ptr<Transport>> session_for(Pool& pool, const std::string& key, const SessionOpener& open,
                                               const ConnectOptions& options)
{
  auto transport = pool.take(key);
  if (transport) { // it may have died since (a node rebooted): one cheap look before lending it
    auto alive = transport->exec("true", "", Seconds{5});
    if (alive && alive->succeeded()) {
      return transport;
    }
  }
  return open(options);
}

/// One client: its session first (from the pool, checked, or new), then its calls until
/// it says "release" (the session goes back) or goes away (the session is closed).
void serve(int fd, Pool& pool, const SessionOpener& open)
{
  auto hello = read_frame(fd);
  auto options = hello ? parse_connect_frame(*hello) : Result<ConnectOptions>{fail(hello.error())};
  if (!options) {
    (void)write_frame(fd, {"error", options.error()});
    return;
  }
  std::string key = pool_key(*hello);
  auto lent = session_for(pool, key, open, *options);
  if (!lent) {
    (void)write_frame(fd, {"error", lent.error()});
    return;
  }
  auto transport = std::move(*lent);
  if (!write_frame(fd, {"ok"})) {
    return;
  }
  bool sound = true; // no call failed in the transport itself
  while (true) {
    auto request = read_frame(fd);
    if (!request || request->empty()) {
      return; // the client went away mid-run: its session goes with it
    }
    const Frame& r = *request;
    const std::string& op = r[0];
    Frame reply;
    if (op == "release" && r.size() == 1) {
      if (sound) {
        pool.give(key, std::move(transport));
      }
      (void)write_frame(fd, {"ok"});
      return;
    } else if (op == "exec" && r.size() == 4) {
      auto result = transport->exec(r[1], r[2], seconds_of(r[3]));
      sound = sound && result.ok();
      reply = exec_frame(result);
    } else if (auto input = op == "exec_input" && r.size() >= 3 ? input_parts(r, 3) : std::nullopt; input) {
      auto result = transport->exec_with_input(r[1], *input, seconds_of(r[2]));
      sound = sound && result.ok();
      reply = exec_frame(result);
    } else if (op == "tcp" && r.size() == 4) {
      auto result = transport->tcp_request(std::atoi(r[1].c_str()), r[2], seconds_of(r[3]));
      reply = result ? Frame{"ok", *result} : Frame{"error", result.error()};
    } else if (op == "stream" && r.size() == 3) {
      auto streamed = stream(fd, *transport, r[1], seconds_of(r[2]), sound);
      if (!streamed) {
        return; // the client went away
      }
      reply = std::move(*streamed);
    } else {
      reply = {"error", "the agent does not know this request"};
    }
    if (!write_frame(fd, reply)) {
      return;
    }
  }
}

bool same_user(int fd)
{
  ucred peer{};
  socklen_t size = sizeof peer;
  return ::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &size) == 0 && peer.uid == ::getuid();
}

} // namespace

int run_agent(const std::filesystem::path& socket, Seconds idle, const SessionOpener& open)
{
  std::signal(SIGPIPE, SIG_IGN); // a peer that went away is an error value, not the agent's end
  // One agent per socket: it holds <socket>.lock for its life.
  std::string lock_path = socket.string() + ".lock";
  int lock_fd = ::open(lock_path.c_str(), O_CREAT | O_RDWR | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (lock_fd < 0 || ::flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
    return 1;
  }
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (socket.string().size() >= sizeof address.sun_path) {
    return 1;
  }
  std::strcpy(address.sun_path, socket.c_str());
  ::unlink(socket.c_str()); // left by an agent that died: we hold the lock, so it is not in use
  int listener = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  mode_t old_mask = ::umask(0177);
  bool bound = listener >= 0 && ::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
               ::listen(listener, 64) == 0;
  ::umask(old_mask);
  if (!bound) {
    return 1;
  }
  Pool pool;
  std::atomic<int> clients{0};
  std::atomic<Clock::rep> last_seen{Clock::now().time_since_epoch().count()};
  while (true) {
    pollfd waiting{listener, POLLIN, 0};
    int ready = ::poll(&waiting, 1, 1000);
    if (ready > 0 && (waiting.revents & POLLIN)) {
      int fd = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd >= 0 && !same_user(fd)) {
        ::close(fd);
      } else if (fd >= 0) {
        ++clients;
        std::thread([fd, &pool, &open, &clients, &last_seen] {
          serve(fd, pool, open);
          ::close(fd);
          last_seen = Clock::now().time_since_epoch().count();
          --clients;
        }).detach();
      }
    }
    auto quiet_since = Clock::time_point(Clock::duration(last_seen.load()));
    if (clients == 0 && Clock::now() - quiet_since >= idle) {
      break;
    }
  }
  ::unlink(socket.c_str());
  ::close(listener);
  ::close(lock_fd);
  return 0;
}

} // namespace deploy
