#include "output.hpp"
#include "parallel.hpp"

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
