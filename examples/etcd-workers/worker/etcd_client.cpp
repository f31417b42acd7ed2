#include "etcd_client.hpp"

#include <netdb.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "stop.hpp"

namespace worker {
namespace {

constexpr std::size_t k_max_response = 1 << 20;

/// Closes the socket when it goes out of scope.
class Socket {
public:
  explicit Socket(int fd) : m_fd(fd) {}
  ~Socket()
  {
    if (m_fd >= 0) {
      ::close(m_fd);
    }
  }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  int fd() const { return m_fd; }

private:
  int m_fd;
};

std::string errno_text(const char* what)
{
  return std::string(what) + ": " + (stop_requested() ? "stopped" : std::strerror(errno));
}

void set_timeouts(int fd, std::chrono::milliseconds timeout)
{
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
  // On Linux SO_SNDTIMEO also bounds connect().
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

int connect_to(const Endpoint& endpoint, std::chrono::milliseconds timeout, std::string* err)
{
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const int rc = ::getaddrinfo(endpoint.host.c_str(), endpoint.port.c_str(), &hints, &found);
  if (rc != 0) {
    *err = std::string("resolve: ") + ::gai_strerror(rc);
    return -1;
  }
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> list(found, &::freeaddrinfo);
  *err = "connect: no address";
  for (const addrinfo* ai = found; ai != nullptr && !stop_requested(); ai = ai->ai_next) {
    const int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
      *err = errno_text("socket");
      continue;
    }
    set_timeouts(fd, timeout);
    if (::connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
      return fd;
    }
    *err = errno == EINPROGRESS ? "connect: timed out" : errno_text("connect");
    ::close(fd);
  }
  return -1;
}

bool send_all(int fd, const std::string& data, std::string* err)
{
  std::size_t sent = 0;
  while (sent < data.size()) {
    const ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n < 0) {
      *err = errno == EAGAIN ? "send: timed out" : errno_text("send");
      return false;
    }
    sent += static_cast<std::size_t>(n);
  }
  return true;
}

bool receive_all(int fd, std::chrono::milliseconds timeout, std::string* out, std::string* err)
{
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  char buffer[8192];
  while (true) {
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n == 0) {
      return true;
    }
    if (n < 0) {
      *err = errno == EAGAIN ? "receive: timed out" : errno_text("receive");
      return false;
    }
    out->append(buffer, static_cast<std::size_t>(n));
    if (out->size() > k_max_response || std::chrono::steady_clock::now() > deadline) {
      *err = out->size() > k_max_response ? "receive: response too large" : "receive: timed out";
      return false;
    }
  }
}

} // namespace

bool http_post(const Endpoint& endpoint, const std::string& path, const std::string& body,
               std::chrono::milliseconds timeout, HttpResponse* out, std::string* err)
{
  const Socket socket(connect_to(endpoint, timeout, err));
  if (socket.fd() < 0) {
    return false;
  }
  std::string raw;
  if (!send_all(socket.fd(), build_http_post(endpoint, path, body), err) ||
      !receive_all(socket.fd(), timeout, &raw, err)) {
    return false;
  }
  auto response = parse_http_response(raw, err);
  if (!response) {
    return false;
  }
  *out = std::move(*response);
  return true;
}

EtcdClient::EtcdClient(std::vector<Endpoint> endpoints) : m_endpoints(std::move(endpoints)) {}

bool EtcdClient::post(const std::string& path, const std::string& request, std::string* body, std::string* err)
{
  std::string errors;
  for (std::size_t i = 0; i < m_endpoints.size() && !stop_requested(); ++i) {
    const std::size_t index = (m_current + i) % m_endpoints.size();
    const Endpoint& endpoint = m_endpoints[index];
    HttpResponse response;
    std::string reason;
    if (http_post(endpoint, path, request, m_timeout, &response, &reason) && response.status == 200) {
      m_current = index;
      *body = std::move(response.body);
      return true;
    }
    ++m_failures;
    if (reason.empty()) {
      reason = "HTTP " + std::to_string(response.status) + ": " + gateway_error_message(response.body);
    }
    errors += (errors.empty() ? "" : "; ") + endpoint.host + ":" + endpoint.port + ": " + reason;
  }
  *err = stop_requested() ? "stopped" : errors;
  return false;
}

bool EtcdClient::put(const std::string& key, const std::string& value, std::string* err, const std::string& lease)
{
  std::string body;
  return post("/v3/kv/put", build_put_body(key, value, lease), &body, err);
}

bool EtcdClient::grant_lease(long ttl_seconds, std::string* lease, std::string* err)
{
  std::string body;
  if (!post("/v3/lease/grant", build_lease_grant_body(ttl_seconds), &body, err)) {
    return false;
  }
  auto id = parse_lease_id(body);
  if (!id) {
    *err = "no lease id in: " + gateway_error_message(body);
    return false;
  }
  *lease = *id;
  return true;
}

bool EtcdClient::keep_alive(const std::string& lease, long* ttl, std::string* err)
{
  std::string body;
  if (!post("/v3/lease/keepalive", build_keepalive_body(lease), &body, err)) {
    return false;
  }
  auto granted = parse_keepalive_ttl(body);
  if (!granted) {
    *err = "not a keepalive response: " + gateway_error_message(body);
    return false;
  }
  *ttl = *granted;
  return true;
}

bool EtcdClient::get(const std::string& key, std::optional<std::string>* value, std::string* err)
{
  std::string body;
  if (!post("/v3/kv/range", build_range_body(key), &body, err)) {
    return false;
  }
  std::string reason;
  *value = parse_range_value(body, &reason);
  if (!*value && reason != "key not found") {
    *err = reason;
    return false;
  }
  return true;
}

} // namespace worker
