#include "output.hpp"
#include "parallel.hpp"
#include "progress.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <thread>

using namespace deploy;

TEST_CASE("run_parallel runs every task and never more than the limit at once")
{
  for (int limit : {1, 3}) {
    std::atomic<int> running{0}, peak{0}, done{0};
    run_parallel(10, limit, [&](size_t) {
      int now = ++running;
      int seen = peak.load();
      while (now > seen && !peak.compare_exchange_weak(seen, now)) {
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      --running;
      ++done;
    });
    CHECK(done == 10);
    CHECK(peak <= limit);
    CHECK(peak >= 1);
  }
}

TEST_CASE("the color option decides colour and NO_COLOR turns automatic colour off")
{
  CHECK(Output(Color::always).colored());
  CHECK_FALSE(Output(Color::never).colored());
  setenv("NO_COLOR", "1", 1);
  CHECK_FALSE(Output(Color::automatic).colored());
  CHECK(Output(Color::always).colored());
  unsetenv("NO_COLOR");
}

TEST_CASE("the summary table is aligned in columns")
{
  CHECK(format_table({{"NODE", "STATE"}, {"server10", "ok"}, {"a", "FAILED"}}) ==
        "NODE      STATE\nserver10  ok\na         FAILED\n");
}

TEST_CASE("the live status line shows phase, nodes done, bytes and rate, and the slowest node")
{
  ProgressSnapshot snapshot;
  snapshot.phase = "stage";
  snapshot.done = 3;
  snapshot.total = 10;
  CHECK(format_status_line(snapshot, 0) == "stage: 3/10 nodes");
  snapshot.bytes = 13 * 1024 * 1024 + 400 * 1024;
  snapshot.bytes_per_second = 5.1 * 1024 * 1024;
  snapshot.slowest = "worker7";
  snapshot.slowest_seconds = 8.24;
  CHECK(format_status_line(snapshot, 0) == "stage: 3/10 nodes | 13.4 MiB sent, 5.1 MiB/s | slowest: worker7 8.2s");
  auto cut = format_status_line(snapshot, 30);
  CHECK(cut == "stage: 3/10 nodes | 13.4 M...");
  CHECK(cut.size() == 29); // never as wide as the terminal: no wrap
  CHECK(format_status_line(ProgressSnapshot{}, 80) == "working: 0/0 nodes");
}

TEST_CASE("byte counts are shown in binary units")
{
  CHECK(format_bytes(0) == "0 B");
  CHECK(format_bytes(1023) == "1023 B");
  CHECK(format_bytes(1536) == "1.5 KiB");
  CHECK(format_bytes(3ull * 1024 * 1024 * 1024) == "3.0 GiB");
}

TEST_CASE("the live status line is drawn only on a terminal and never in CI")
{
  CHECK(live_status_wanted(true, "xterm-256color", nullptr));
  CHECK(live_status_wanted(true, "xterm", ""));
  CHECK_FALSE(live_status_wanted(false, "xterm", nullptr)); // piped or redirected: plain lines
  CHECK_FALSE(live_status_wanted(true, "dumb", nullptr));
  CHECK_FALSE(live_status_wanted(true, nullptr, nullptr));
  CHECK_FALSE(live_status_wanted(true, "xterm", "true")); // CI=true
  CHECK_FALSE(Output(Color::never, Format::text, false).live());
}
