#pragma once

// The I/O half of the etcd client: HTTP/1.1 over POSIX sockets to etcd 3.4's JSON gateway.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "etcd_protocol.hpp"

namespace worker {

/// One POST with bounded connect/send/receive times; gives up early (EINTR) once stop is requested.
/// False (and *err) on network errors or a malformed response; any HTTP status counts as success here.
bool http_post(const Endpoint& endpoint, const std::string& path, const std::string& body,
               std::chrono::milliseconds timeout, HttpResponse* out, std::string* err);

/// A put/get client that tries each endpoint in turn, starting with the one that answered last.
class EtcdClient {
public:
  explicit EtcdClient(std::vector<Endpoint> endpoints);

  /// Puts the key, attached to `lease` when it is not empty.
  bool put(const std::string& key, const std::string& value, std::string* err, const std::string& lease = "");
  /// A new lease of `ttl_seconds`; its id goes to *lease.
  bool grant_lease(long ttl_seconds, std::string* lease, std::string* err);
  /// Renews the lease; *ttl is 0 when it had already expired (its keys are gone).
  bool keep_alive(const std::string& lease, long* ttl, std::string* err);
  /// True when some endpoint answered; *value is empty when the key does not exist.
  bool get(const std::string& key, std::optional<std::string>* value, std::string* err);
  /// Requests to an endpoint that failed (no answer in time, or not 200) since the client began:
  /// each one is a retry on the next endpoint, or an operation that failed.
  std::uint64_t failures() const { return m_failures; }

private:
  /// POSTs to each endpoint in turn until one answers 200; its body goes to *body.
  bool post(const std::string& path, const std::string& request, std::string* body, std::string* err);

  std::vector<Endpoint> m_endpoints;
  std::size_t m_current = 0;
  std::chrono::milliseconds m_timeout{1000};
  std::uint64_t m_failures = 0;
};

} // namespace worker
