#include "fault_schedule.hpp"

#include <catch2/catch.hpp>

#include <set>

using namespace deploy;

namespace {

std::string text(const std::vector<ScheduledFault>& schedule)
{
  std::string out;
  for (const auto& step : schedule) {
    out += std::to_string(step.at) + " " + step.fault.kind + " " + std::to_string(step.fault.seconds) + " " +
           std::to_string(*step.fault.seed) + "\n";
  }
  return out;
}

} // namespace

TEST_CASE("a schedule is the same for the same seed, fills its time, and keeps to its kinds and interval")
{
  ScheduleOptions options;
  options.seed = 7;
  options.seconds = 60;
  options.kinds = {"partition", "kill", "pause", "loss"};
  REQUIRE(parse_interval("4-9", options));
  auto schedule = make_schedule(options);
  CHECK(text(schedule) == text(make_schedule(options)));
  REQUIRE(schedule.size() >= 60 / 9);
  int next = 0;
  std::set<std::string> kinds;
  for (const auto& step : schedule) {
    CHECK(step.at == next); // one at a time, each after the one before
    CHECK(step.fault.seconds <= 9);
    CHECK(step.fault.targets == std::vector<std::string>{"one"});
    kinds.insert(step.fault.kind);
    next += step.fault.seconds;
  }
  CHECK(next <= 60);
  CHECK(next > 60 - 4);
  CHECK(kinds.size() > 1);
  options.seed = 8;
  CHECK(text(make_schedule(options)) != text(schedule));
}

TEST_CASE("an interval is A-B seconds")
{
  ScheduleOptions options;
  for (const char* bad : {"5", "9-4", "0-3", "a-b", "-5", "5-", "1-99999"}) {
    CHECK(parse_interval(bad, options).error().starts_with("bad --interval '"));
  }
  REQUIRE(parse_interval("2-2", options));
  CHECK(options.shortest == 2);
  CHECK(options.longest == 2);
}
