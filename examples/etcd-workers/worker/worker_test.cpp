// Unit tests of example-worker's pure logic, plus the HTTP client against a tiny server on loopback.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "checkpoint.hpp"
#include "config.hpp"
#include "etcd_client.hpp"
#include "etcd_protocol.hpp"
#include "work.hpp"

using namespace worker;
using json = nlohmann::json;

TEST_CASE("config: a rendered worker.conf parses")
{
  Config config;
  std::string err;
  const std::string text =
      "# comment\n\nnode = worker2\ncluster=example\n"
      "endpoints=http://10.0.0.11:2379, http://10.0.0.12:2379,\nshard=1\nshards=3\ndata_dir=/var/lib/example/worker\n";
  REQUIRE(parse_config(text, &config, &err));
  CHECK(config.node == "worker2");
  CHECK(config.endpoints == std::vector<std::string>{"http://10.0.0.11:2379", "http://10.0.0.12:2379"});
  CHECK(config.shard == 1);
  CHECK(config.shards == 3);
  CHECK(config.data_dir == "/var/lib/example/worker");
}

TEST_CASE("config: errors name the problem")
{
  Config config;
  std::string err;
  SECTION("missing key")
  {
    CHECK_FALSE(parse_config("node=a\nendpoints=http://x:1\nshards=2\n", &config, &err));
    CHECK(err == "missing key 'shard'");
  }
  SECTION("shard out of range")
  {
    CHECK_FALSE(parse_config("node=a\nendpoints=http://x:1\nshard=3\nshards=3\n", &config, &err));
    CHECK(err.find("shard must be in [0, shards)") != std::string::npos);
  }
  SECTION("not a number")
  {
    CHECK_FALSE(parse_config("node=a\nshard=-1\n", &config, &err));
    CHECK(err == "line 2: shard: not a non-negative integer: '-1'");
  }
  SECTION("unknown key and missing '='")
  {
    CHECK_FALSE(parse_config("nodes=a\n", &config, &err));
    CHECK(err == "line 1: unknown key 'nodes'");
    CHECK_FALSE(parse_config("node=a\njunk\n", &config, &err));
    CHECK(err == "line 2: expected key=value");
  }
}

TEST_CASE("endpoint URLs")
{
  const auto endpoint = parse_endpoint("http://10.213.77.11:2379");
  REQUIRE(endpoint);
  CHECK(endpoint->host == "10.213.77.11");
  CHECK(endpoint->port == "2379");
  CHECK(parse_endpoint("http://etcd/")->port == "80");
  CHECK_FALSE(parse_endpoint("https://10.0.0.1:2379"));
  CHECK_FALSE(parse_endpoint("http://10.0.0.1:port"));
  CHECK_FALSE(parse_endpoint("http://10.0.0.1:2379/v3"));
}

TEST_CASE("base64 matches RFC 4648 and round-trips binary")
{
  CHECK(base64_encode("") == "");
  CHECK(base64_encode("f") == "Zg==");
  CHECK(base64_encode("foob") == "Zm9vYg==");
  CHECK(base64_encode("/example/workers/worker1") == "L2V4YW1wbGUvd29ya2Vycy93b3JrZXIx");
  CHECK(base64_decode("Zm9vYmE=") == std::optional<std::string>("fooba"));
  const std::string binary("\0\xff\x10 x", 5);
  CHECK(base64_decode(base64_encode(binary)) == std::optional<std::string>(binary));
  CHECK_FALSE(base64_decode("Zm9"));
  CHECK_FALSE(base64_decode("Zm9v!A=="));
}

TEST_CASE("etcd gateway bodies")
{
  CHECK(json::parse(build_put_body("/k", "v1")) == json{{"key", "L2s="}, {"value", "djE="}});
  CHECK(json::parse(build_range_body("/k")) == json{{"key", "L2s="}});
  std::string err;
  const std::string found =
      R"({"header":{"revision":"5"},"kvs":[{"key":"L2s=","value":"djE=","version":"2"}],"count":"1"})";
  CHECK(parse_range_value(found, &err) == std::optional<std::string>("v1"));
  CHECK_FALSE(parse_range_value(R"({"header":{"revision":"5"}})", &err));
  CHECK(err == "key not found");
  CHECK_FALSE(parse_range_value("404 page not found", &err));
  CHECK(err == "not a range response");
  CHECK(gateway_error_message(
            R"({"error":"etcdserver: key is not provided","message":"etcdserver: key is not provided","code":3})") ==
        "etcdserver: key is not provided");
}

TEST_CASE("etcd lease bodies: grant, put on a lease, keepalive of a live and an expired lease")
{
  CHECK(json::parse(build_lease_grant_body(10)) == json{{"TTL", "10"}});
  CHECK(json::parse(build_put_body("/k", "v1", "42")) == json{{"key", "L2s="}, {"value", "djE="}, {"lease", "42"}});
  CHECK(json::parse(build_keepalive_body("42")) == json{{"ID", "42"}});
  // Responses as etcd 3.4's gateway writes them.
  CHECK(parse_lease_id(R"({"header":{"raft_term":"2"},"ID":"8634141670799030313","TTL":"3"})") ==
        std::optional<std::string>("8634141670799030313"));
  CHECK_FALSE(parse_lease_id(R"({"error":"etcdserver: too many requests","code":14})"));
  CHECK(parse_keepalive_ttl(R"({"result":{"header":{"revision":"34"},"ID":"863","TTL":"3"}})") ==
        std::optional<long>(3));
  CHECK(parse_keepalive_ttl(R"({"result":{"header":{"revision":"46"},"ID":"863"}})") == std::optional<long>(0));
  CHECK_FALSE(parse_keepalive_ttl(R"({"error":"etcdserver: requested lease not found","code":5})"));
}

TEST_CASE("HTTP request and response")
{
  const std::string request = build_http_post({"10.0.0.1", "2379"}, "/v3/kv/put", "{}");
  CHECK(request == "POST /v3/kv/put HTTP/1.1\r\nHost: 10.0.0.1:2379\r\nContent-Type: application/json\r\n"
                   "Content-Length: 2\r\nConnection: close\r\n\r\n{}");
  std::string err;
  SECTION("content-length")
  {
    const auto response = parse_http_response("HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nabcdEXTRA", &err);
    REQUIRE(response);
    CHECK(response->status == 200);
    CHECK(response->body == "abcd");
  }
  SECTION("chunked")
  {
    const auto response = parse_http_response("HTTP/1.1 503 Service Unavailable\r\nTransfer-Encoding: "
                                              "chunked\r\n\r\n3\r\nabc\r\na\r\n0123456789\r\n0\r\n\r\n",
                                              &err);
    REQUIRE(response);
    CHECK(response->status == 503);
    CHECK(response->body == "abc0123456789");
  }
  SECTION("malformed or truncated")
  {
    CHECK_FALSE(parse_http_response("", &err));
    CHECK_FALSE(parse_http_response("SSH-2.0-OpenSSH\r\n\r\n", &err));
    CHECK(err == "bad status line");
    CHECK_FALSE(parse_http_response("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", &err));
    CHECK(err == "truncated body (3 of 10 bytes)");
    CHECK_FALSE(parse_http_response("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", &err));
  }
}

TEST_CASE("release id from the resolved executable path")
{
  CHECK(release_from_path("/opt/example/releases/20261126-1952-ab12/bin/example-worker", "example") ==
        "20261126-1952-ab12");
  CHECK(release_from_path("/opt/other/releases/r1/bin/example-worker", "example") == "unknown");
  CHECK(release_from_path("/opt/example/current/bin/example-worker", "example") == "unknown");
  CHECK(release_from_path("/opt/example/releases/r1/lib/bin/example-worker", "example") == "unknown");
  CHECK(release_from_path("/tmp/build/examples/etcd-workers/worker/example-worker", "example") == "unknown");
  CHECK(release_from_path("", "example") == "unknown");
}

TEST_CASE("blocks are dealt round-robin to shards")
{
  CHECK(nth_block(0, 1, 3) == 1);
  CHECK(nth_block(2, 1, 3) == 7);
  for (std::uint64_t block = 0; block < 30; ++block) {
    int owners = 0;
    for (std::uint64_t shard = 0; shard < 3; ++shard) {
      owners += owns_block(block, shard, 3) ? 1 : 0;
    }
    CHECK(owners == 1);
    CHECK(owns_block(block, block % 3, 3));
  }
  Progress progress;
  CHECK(next_block(progress, 2, 3) == 2);
  record_block(&progress, 2, 10);
  CHECK(next_block(progress, 2, 3) == 5);
  progress.last_block = 5;
  CHECK(next_block(progress, 1, 4) == 9); // after a reshard: the next block >= 6 that shard 1 of 4 owns
}

TEST_CASE("prime counting")
{
  CHECK_FALSE(is_prime(0));
  CHECK_FALSE(is_prime(1));
  CHECK(is_prime(2));
  CHECK(is_prime(97));
  CHECK_FALSE(is_prime(91));
  CHECK(is_prime(1000000007));
  CHECK(count_primes(0, 100) == 25);
  CHECK(count_primes(0, 10000) == 1229);
  CHECK(count_primes_in_block(0) == 9592);                             // pi(100000)
  CHECK(count_primes_in_block(0) + count_primes_in_block(1) == 17984); // pi(200000)
  CHECK(count_primes(10, 10) == 0);
  CHECK(count_primes(2, 3) == 1);
  CHECK(count_primes(1000000000, 1000000100) == 7); // the 7 primes just above 10^9
  // The sieve agrees with trial division far from 0 (block 250000 is [25e9, 25e9 + 1e5)).
  std::uint64_t by_trial_division = 0;
  for (std::uint64_t n = 250000 * k_block_size; n < 250001 * k_block_size; ++n) {
    by_trial_division += is_prime(n) ? 1 : 0;
  }
  CHECK(count_primes_in_block(250000) == by_trial_division);
}

TEST_CASE("registration and result documents")
{
  CHECK(registration_key("example", "worker1") == "/example/workers/worker1");
  CHECK(json::parse(registration_json("worker1", "r7", 42, 0)) ==
        json{{"node", "worker1"}, {"release", "r7"}, {"pid", 42}, {"shard", 0}});
  Progress progress;
  CHECK(json::parse(result_json("worker2", 1, progress, 1700000000))["last_block"].is_null());
  record_block(&progress, 1, 8392);
  record_block(&progress, 4, 8013);
  const std::string text = result_json("worker2", 1, progress, 1700000000);
  CHECK(result_key("example", "worker2") == "/example/results/worker2");
  CHECK(json::parse(text) ==
        json{{"node", "worker2"},     {"shard", 1},     {"blocks_done", 2},
             {"primes_found", 16405}, {"last_block", 4}, {"published_at", 1700000000},
             {"disk", "ok"},          {"corrupt_found", 0}, {"etcd_failures", 0}});
  const auto full = json::parse(result_json("worker2", 1, progress, 1700000000, {"No space left on device", 2, 9}));
  CHECK(full["disk"] == "No space left on device");
  CHECK(full["corrupt_found"] == 2);
  CHECK(full["etcd_failures"] == 9);
  const auto resumed = parse_result(text, "worker2", 1);
  REQUIRE(resumed);
  CHECK(resumed->blocks_done == 2);
  CHECK(resumed->last_block == std::optional<std::uint64_t>(4));
  CHECK_FALSE(parse_result(text, "worker3", 1));
  CHECK_FALSE(parse_result(text, "worker2", 0));
  CHECK_FALSE(parse_result("garbage", "worker2", 1));
}

namespace {

/// A one-shot HTTP server on 127.0.0.1: answers the first connection with `response`.
class OneShotServer {
public:
  explicit OneShotServer(std::string response)
  {
    m_fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    REQUIRE(::bind(m_fd, reinterpret_cast<sockaddr*>(&addr), len) == 0);
    REQUIRE(::listen(m_fd, 1) == 0);
    ::getsockname(m_fd, reinterpret_cast<sockaddr*>(&addr), &len);
    m_port = std::to_string(ntohs(addr.sin_port));
    m_thread = std::thread([this, response] { serve(response); });
  }
  ~OneShotServer()
  {
    m_thread.join();
    ::close(m_fd);
  }
  std::string port() const { return m_port; }
  std::string request() const { return m_request; }

private:
  void serve(const std::string& response)
  {
    const int client = ::accept(m_fd, nullptr, nullptr);
    char buffer[4096];
    while (m_request.find("\r\n\r\n") == std::string::npos || m_request.back() != '}') {
      const ssize_t n = ::recv(client, buffer, sizeof buffer, 0);
      if (n <= 0) {
        break;
      }
      m_request.append(buffer, static_cast<std::size_t>(n));
    }
    ::send(client, response.data(), response.size(), 0);
    ::close(client);
  }

  int m_fd = -1;
  std::string m_port;
  std::string m_request;
  std::thread m_thread;
};

/// A loopback port with nothing listening on it.
std::string closed_port()
{
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), len);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return std::to_string(ntohs(addr.sin_port));
}

} // namespace

TEST_CASE("checkpoint: a flipped bit or a cut tail is found, a whole file passes")
{
  const std::string document = R"({"node":"worker1","blocks_done":7})";
  const std::string text = checkpoint_text(document);
  CHECK(check_checkpoint(text) == "ok");
  for (std::size_t i = 0; i < text.size() - 1; ++i) { // every bit but those of the final newline
    for (int bit = 0; bit < 8; ++bit) {
      std::string flipped = text;
      flipped[i] = static_cast<char>(flipped[i] ^ (1 << bit));
      INFO("byte " << i << " bit " << bit);
      CHECK(check_checkpoint(flipped).rfind("corrupt: ", 0) == 0);
    }
  }
  CHECK(check_checkpoint(text.substr(0, text.size() / 2)).rfind("corrupt: ", 0) == 0);
  CHECK(check_checkpoint("").rfind("corrupt: ", 0) == 0);
}

TEST_CASE("checkpoint file: written whole, read back, missing says none")
{
  const auto dir = std::filesystem::temp_directory_path() / ("checkpoint-test-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto path = dir / "checkpoint";
  CHECK(verify_checkpoint_file(path) == "none");
  CHECK(write_checkpoint_file(path, "{}") == "ok");
  CHECK(verify_checkpoint_file(path) == "ok");
  CHECK(write_checkpoint_file(dir / "no-such-dir" / "checkpoint", "{}") == "No such file or directory");
  std::filesystem::remove_all(dir);
}

TEST_CASE("http_post talks HTTP/1.1 to a server on loopback")
{
  OneShotServer server("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n");
  HttpResponse response;
  std::string err;
  REQUIRE(
      http_post({"127.0.0.1", server.port()}, "/v3/kv/range", "{}", std::chrono::milliseconds(2000), &response, &err));
  CHECK(response.status == 200);
  CHECK(response.body == "{}");
}

TEST_CASE("EtcdClient skips an endpoint that refuses, counts it, and reads from the next")
{
  const std::string body = R"({"header":{"revision":"3"},"kvs":[{"key":"L2s=","value":"djE="}]})";
  OneShotServer server("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
                       std::to_string(body.size()) + "\r\n\r\n" + body);
  EtcdClient client({{"127.0.0.1", closed_port()}, {"127.0.0.1", server.port()}});
  std::optional<std::string> value;
  std::string err;
  REQUIRE(client.get("/k", &value, &err));
  CHECK(value == std::optional<std::string>("v1"));
  CHECK(server.request().find("POST /v3/kv/range HTTP/1.1\r\n") == 0);
  CHECK(client.failures() == 1); // the refusing endpoint
}

TEST_CASE("EtcdClient reports every endpoint when all fail")
{
  const std::string port = closed_port();
  EtcdClient client({{"127.0.0.1", port}});
  std::string err;
  CHECK_FALSE(client.put("/k", "v", &err));
  CHECK(err == "127.0.0.1:" + port + ": connect: Connection refused");
}
