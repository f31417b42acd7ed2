#pragma once

// The pure half of the etcd client: URL parsing, base64, JSON bodies for etcd 3.4's gRPC JSON
// gateway, and HTTP/1.1 request building and response parsing. No I/O here, so all of it is unit-tested.

#include <optional>
#include <string>

namespace worker {

/// An etcd client URL split into its parts ("http://10.0.0.1:2379" -> {"10.0.0.1", "2379"}).
struct Endpoint {
  std::string host;
  std::string port;
};

/// Accepts only plain http:// URLs with an explicit or default (80) port and an optional "/" path.
std::optional<Endpoint> parse_endpoint(const std::string& url);

std::string base64_encode(const std::string& bytes);
/// Empty optional when the input is not valid (padded) base64.
std::optional<std::string> base64_decode(const std::string& text);

/// JSON body of POST /v3/kv/put: {"key": b64(key), "value": b64(value)}, attached to `lease`
/// (an id from /v3/lease/grant) when it is not empty: the key goes when the lease expires.
std::string build_put_body(const std::string& key, const std::string& value, const std::string& lease = "");

/// JSON body of POST /v3/lease/grant: {"TTL": ttl_seconds}.
std::string build_lease_grant_body(long ttl_seconds);
/// The lease id ("ID", a decimal string) of a /v3/lease/grant response; nullopt if there is none.
std::optional<std::string> parse_lease_id(const std::string& body);
/// JSON body of POST /v3/lease/keepalive: {"ID": id}.
std::string build_keepalive_body(const std::string& lease);
/// The TTL a /v3/lease/keepalive response grants: 0 when the lease has expired (etcd then omits
/// "TTL"), nullopt when the body is no keepalive response.
std::optional<long> parse_keepalive_ttl(const std::string& body);
/// JSON body of POST /v3/kv/range for one key: {"key": b64(key)}.
std::string build_range_body(const std::string& key);

/// The value of the first kv in a /v3/kv/range response. nullopt when the key does not exist
/// or the body is not a range response; *err says which.
std::optional<std::string> parse_range_value(const std::string& body, std::string* err);

/// A complete HTTP/1.1 POST with a JSON body and "Connection: close".
std::string build_http_post(const Endpoint& endpoint, const std::string& path, const std::string& body);

struct HttpResponse {
  int status = 0;
  std::string body;
};

/// Parses a whole response (read until the server closed): status line, headers, then a body
/// framed by Content-Length, chunked transfer encoding, or the end of the data.
/// nullopt (and *err) when the response is malformed or truncated.
std::optional<HttpResponse> parse_http_response(const std::string& raw, std::string* err);

/// The "message" (or "error") of an etcd gateway error body, else the body itself, cut to one line.
std::string gateway_error_message(const std::string& body);

} // namespace worker
