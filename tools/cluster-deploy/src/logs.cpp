#include "logs.hpp"

#include "console.hpp"
#include "node_ops.hpp"

#include <algorithm>
#include <cstdio>
#include <mutex>

namespace deploy {
namespace {

std::string journal_command(const Plan& plan, const std::vector<const Service*>& services, const Node& node,
                            const LogOptions& options)
{
  std::vector<std::string> words = {plan.cluster, std::to_string(options.lines), options.since,
                                    options.follow ? "follow" : "once"};
  for (const Service* service : services) {
    if (service->group == node.group) {
      words.push_back(service->name);
    }
  }
  return root_command(remote::journal, words);
}

} // namespace

std::vector<std::string> merge_by_time(std::vector<std::pair<std::string, std::string>> node_lines)
{
  std::stable_sort(node_lines.begin(), node_lines.end(),
                   [](const auto& a, const auto& b) { return a.second.substr(0, 31) < b.second.substr(0, 31); });
  std::vector<std::string> merged;
  for (const auto& [node, line] : node_lines) {
    merged.push_back(node + " | " + line);
  }
  return merged;
}

bool run_logs(Cluster& cluster, const std::vector<const Service*>& services, const LogOptions& options)
{
  std::vector<std::pair<std::string, std::string>> lines;
  std::mutex mutex;
  bool ok = true;
  cluster.for_each_alive(
      [&](NodeSlot& slot) {
        std::string command = journal_command(cluster.plan(), services, *slot.node, options);
        std::string pending;
        auto sink = [&](std::string_view chunk) {
          pending += chunk;
          for (auto nl = pending.find('\n'); nl != std::string::npos; nl = pending.find('\n')) {
            std::string line = pending.substr(0, nl);
            pending.erase(0, nl + 1);
            std::lock_guard lock(mutex);
            if (options.follow) {
              print_out(slot.node->name + " | " + line + "\n");
              std::fflush(stdout);
            } else if (!line.starts_with("-- ")) {
              lines.emplace_back(slot.node->name, line);
            }
          }
          return true;
        };
        auto done = slot.transport->exec_streaming(command, sink, options.follow ? Seconds{0} : Seconds{60});
        std::string error = !done       ? done.error()
                            : *done > 0 ? "journalctl exited " + std::to_string(*done) + " (check --since)"
                                        : "";
        if (!error.empty()) {
          std::lock_guard lock(mutex);
          ok = false;
          cluster.output().progress(slot.node->name, "error: " + error);
        }
      },
      options.follow ? static_cast<int>(cluster.slots().size()) : 0); // follow: every node at once
  for (const auto& line : merge_by_time(std::move(lines))) {
    print_out(line + "\n");
  }
  return ok && std::all_of(cluster.slots().begin(), cluster.slots().end(), [](const NodeSlot& s) { return s.alive(); });
}

} // namespace deploy
