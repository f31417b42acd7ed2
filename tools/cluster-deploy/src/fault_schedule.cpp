#include "fault_schedule.hpp"

#include "console.hpp"
#include "interrupt.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <random>
#include <thread>

namespace deploy {
namespace {

std::string json_line(const ScheduledFault& step, const std::vector<const Node*>& targets)
{
  nlohmann::ordered_json names = nlohmann::ordered_json::array();
  for (const Node* node : targets) {
    names.push_back(node->name);
  }
  nlohmann::ordered_json line = {{"at", step.at},
                                 {"kind", step.fault.kind},
                                 {"targets", names},
                                 {"seconds", step.fault.seconds},
                                 {"seed", *step.fault.seed}};
  return line.dump() + "\n";
}

/// Waits `seconds`, or less when asked to stop; false when asked.
bool hold(int seconds)
{
  auto end = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < end) {
    if (interrupted()) {
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return true;
}

} // namespace

Result<void> parse_interval(const std::string& text, ScheduleOptions& options)
{
  auto dash = text.find('-');
  try {
    if (dash != std::string::npos && dash > 0 && text.find_first_not_of("0123456789-") == std::string::npos) {
      options.shortest = std::stoi(text.substr(0, dash));
      options.longest = std::stoi(text.substr(dash + 1));
      if (options.shortest >= 1 && options.shortest <= options.longest && options.longest <= 3600) {
        return {};
      }
    }
  } catch (const std::exception&) {
  }
  return fail("bad --interval '" + text + "': A-B seconds, 1 <= A <= B <= 3600, like 5-15");
}

std::vector<ScheduledFault> make_schedule(const ScheduleOptions& options)
{
  std::mt19937 random{options.seed};
  std::vector<ScheduledFault> schedule;
  for (int at = 0; at + options.shortest <= options.seconds;) {
    ScheduledFault step;
    step.at = at;
    step.fault.kind = options.kinds[random() % options.kinds.size()];
    step.fault.targets = {"one"};
    int length = options.shortest + static_cast<int>(random() % (options.longest - options.shortest + 1));
    step.fault.seconds = std::min(length, options.seconds - at);
    step.fault.seed = static_cast<unsigned>(random());
    at += step.fault.seconds;
    schedule.push_back(step);
  }
  return schedule;
}

bool run_schedule(Cluster& cluster, const Selection& selection, const ScheduleOptions& options)
{
  catch_interrupts();
  bool ok = true;
  for (ScheduledFault step : make_schedule(options)) {
    if (options.dry_run) {
      std::mt19937 random{*step.fault.seed};
      auto targets = resolve_targets(cluster.plan(), selection, step.fault.targets, nullptr, random).value_or_throw();
      print_out(json_line(step, targets));
      continue;
    }
    int length = step.fault.seconds;
    step.fault.seconds = length + 60; // healed below; the node's own timer only if we die
    auto targets = apply_fault(cluster, selection, step.fault, ok);
    step.fault.seconds = length;
    print_out(json_line(step, targets));
    std::fflush(stdout);
    bool go_on = hold(length);
    ok = run_heal(cluster) && ok;
    if (!go_on || !ok) {
      break;
    }
  }
  return ok && !interrupted();
}

} // namespace deploy
