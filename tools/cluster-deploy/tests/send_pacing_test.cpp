#include "ssh_channel.hpp"

#include <catch2/catch.hpp>

using namespace deploy::ssh_detail;
using namespace std::chrono_literals;

namespace {
constexpr std::uint32_t k_window = 2 * 1024 * 1024; // OpenSSH's session window
constexpr std::uint32_t k_limit = 256 * 1024;
} // namespace

TEST_CASE("an upload keeps at most its limit unread by the node, whatever the window")
{
  SendPacing pacing(k_limit, 1s);
  const SendPacing::Clock::time_point t0{};
  CHECK(pacing.room(k_window, t0) == k_limit);
  pacing.sent(k_limit);
  std::uint32_t window = k_window - k_limit; // sent all it could
  CHECK(pacing.room(window, t0 + 10ms) == 0);
  window += 96 * 1024; // the node's command read 96 KiB: OpenSSH adjusts the window
  CHECK(pacing.room(window, t0 + 20ms) == 96 * 1024);
  CHECK(pacing.room(16 * 1024, t0 + 30ms) == 0); // nearly closed window, limit reached
}

TEST_CASE("a server that has adjusted the window is waited for, however long its command pauses")
{
  SendPacing pacing(k_limit, 1s);
  const SendPacing::Clock::time_point t0{};
  REQUIRE(pacing.room(k_window, t0) == k_limit);
  pacing.sent(k_limit);
  std::uint32_t window = k_window - k_limit + 96 * 1024; // one adjust
  REQUIRE(pacing.room(window, t0) == 96 * 1024);
  pacing.sent(96 * 1024);
  window -= 96 * 1024;
  CHECK(pacing.room(window, t0 + 10ms) == 0);
  CHECK(pacing.room(window, t0 + 5s) == 0); // a busy node's command, not a server that waits
}

TEST_CASE("a server that adjusts no window while the upload is held back gets the whole window")
{
  SendPacing pacing(k_limit, 1s);
  const SendPacing::Clock::time_point t0{};
  REQUIRE(pacing.room(k_window, t0) == k_limit);
  pacing.sent(k_limit);
  const std::uint32_t window = k_window - k_limit;
  CHECK(pacing.room(window, t0) == 0);
  CHECK(pacing.room(window, t0 + 999ms) == 0);
  CHECK(pacing.room(window, t0 + 1s) == window); // it waits for half the window, say
  CHECK(pacing.room(k_window, t0 + 2s) == k_window); // from then on
}

TEST_CASE("the limit keeps 100 MB/s at the connection's round trip, at least 256 KiB")
{
  CHECK(in_flight_limit(std::chrono::microseconds{60}) == k_limit); // the local cluster's veth
  CHECK(in_flight_limit(std::chrono::microseconds{1000}) == k_limit); // a LAN
  CHECK(in_flight_limit(std::chrono::microseconds{20000}) == 2'000'000); // 20 ms: about the window
  CHECK(in_flight_limit(std::nullopt) == UINT32_MAX); // a ProxyCommand's pipe: no limit
}
