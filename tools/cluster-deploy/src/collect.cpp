#include "collect.hpp"

#include "node_ops.hpp"
#include "timeline.hpp"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>

namespace deploy {
namespace {

std::string read_text(const std::filesystem::path& file)
{
  std::ifstream in(file, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string collect_command(const Plan& plan, const std::vector<const Service*>& services, const Node& node,
                            const CollectOptions& options)
{
  std::vector<std::string> words = {plan.cluster, std::to_string(static_cast<long long>(options.since)),
                                    std::to_string(static_cast<long long>(options.until) + 1),
                                    std::to_string(options.max_journal_bytes)};
  for (const Service* service : services) {
    if (service->group == node.group) {
      words.push_back(service->name);
    }
  }
  return root_command(remote::collect, words);
}

/// A link fault's record names addresses: say which nodes they are ("from server2 server3";
/// a loss says its share first, "20% from server2", a slow link its rate, "125000 B/s from ...").
void name_addresses(const Plan& plan, std::vector<FaultSpan>& faults)
{
  for (auto& fault : faults) {
    if (!is_link_fault(fault.kind)) {
      continue;
    }
    std::istringstream words(fault.detail);
    std::string share;
    if (fault.kind != "partition" && words >> share) {
      share += fault.kind == "loss" ? "% " : " B/s ";
    }
    std::string names;
    for (std::string word; words >> word;) {
      auto node = std::find_if(plan.inventory.nodes.begin(), plan.inventory.nodes.end(),
                               [&](const Node& n) { return n.address == word; });
      names += " " + (node != plan.inventory.nodes.end() ? node->name : word);
    }
    fault.detail = names.empty() ? share : share + "from" + names;
  }
}

} // namespace

Result<double> parse_time(const std::string& text, double now)
{
  try {
    std::size_t used = 0;
    if (text.starts_with("-") && text.size() > 2) {
      double amount = std::stod(text.substr(1), &used);
      std::string unit = text.substr(1 + used);
      double factor = unit == "s" ? 1 : unit == "m" ? 60 : unit == "h" ? 3600 : 0;
      if (factor > 0) {
        return now - amount * factor;
      }
    } else if (text.find('T') != std::string::npos) {
      std::tm tm{};
      std::istringstream in(text);
      in >> std::get_time(&tm, "%Y-%m-%dT%H:%M:%S");
      if (!in.fail() && (in.peek() == EOF || in.peek() == 'Z')) {
        return static_cast<double>(timegm(&tm));
      }
    } else {
      std::string digits = text.starts_with("@") ? text.substr(1) : text;
      double seconds = std::stod(digits, &used);
      if (used == digits.size()) {
        return seconds;
      }
    }
  } catch (const std::exception&) {
  }
  return Failure{"not a time: '" + text + "' (give seconds since the epoch, -10m, or 2026-12-03T20:00:00Z)"};
}

std::vector<const Node*> sample_nodes(const Plan& plan, const std::vector<const Node*>& nodes, std::size_t max_nodes,
                                      std::vector<std::string>& left_out)
{
  if (nodes.size() <= max_nodes) {
    return nodes;
  }
  auto raft_group = [&](const std::string& group) {
    return std::any_of(plan.services.begin(), plan.services.end(),
                       [&](const Service& s) { return s.group == group && s.is_quorum_group(); });
  };
  std::vector<const Node*> chosen;
  std::map<std::string, std::vector<const Node*>> others; // group -> nodes, in inventory order
  for (const Node* node : nodes) {
    (raft_group(node->group) ? chosen : others[node->group]).push_back(node);
  }
  for (std::size_t i = 0; chosen.size() < max_nodes; ++i) {
    bool any = false;
    for (auto& [group, members] : others) {
      if (i < members.size() && chosen.size() < max_nodes) {
        chosen.push_back(members[i]);
        any = true;
      }
    }
    if (!any) {
      break;
    }
  }
  for (const Node* node : nodes) {
    if (std::find(chosen.begin(), chosen.end(), node) == chosen.end()) {
      left_out.push_back(node->name);
    }
  }
  return chosen;
}

Result<std::vector<std::filesystem::path>> run_collect(Cluster& cluster, const std::vector<const Service*>& services,
                                                       const CollectOptions& options)
{
  Evidence evidence;
  evidence.cluster = cluster.plan().cluster;
  evidence.test = options.test;
  evidence.result = options.result;
  evidence.since = options.since;
  evidence.until = options.until;
  evidence.left_out = options.left_out;
  std::mutex mutex;
  std::vector<NodeEvidence> nodes(cluster.slots().size());
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    nodes[i].name = cluster.slots()[i].node->name;
    nodes[i].group = cluster.slots()[i].node->group;
    nodes[i].failure = cluster.slots()[i].failure.empty() ? "" : "unreachable";
  }
  // Logs first, in one round trip a node, at most 25 nodes at once (Kubernetes' log dump
  // keeps to the same), each bounded in time; the cap on the journal bounds the bytes.
  cluster.for_each_alive(
      [&](NodeSlot& slot) {
        auto index = static_cast<std::size_t>(&slot - cluster.slots().data());
        auto result = slot.transport->exec(collect_command(cluster.plan(), services, *slot.node, options), "",
                                           Seconds{30});
        std::lock_guard lock(mutex);
        if (!result) {
          nodes[index].failure = result.error();
        } else {
          parse_node_evidence(result->out, options.max_journal_bytes, nodes[index]);
        }
      },
      std::min(cluster.parallel(), 25));
  evidence.nodes = std::move(nodes);
  find_faults_and_events(evidence);
  name_addresses(cluster.plan(), evidence.faults);
  if (!options.history.empty() && std::filesystem::exists(options.history)) {
    int skipped = 0;
    evidence.history = read_history(options.history, skipped);
  }
  evidence.runs = read_runs(cluster.plan().output_dir / "runs.jsonl", options.since, options.until);
  for (const auto& run : evidence.runs) { // a run that wrote no steps (it ended early) has none
    evidence.run_steps.push_back(read_text(cluster.plan().output_dir / "runs" / (run.run + ".jsonl")));
  }
  if (!options.test_output.empty()) {
    evidence.test_output = read_text(options.test_output);
  }
  auto files = write_evidence(evidence, options.out);
  if (files && !write_file(options.out / "timeline.html", timeline_html(evidence))) {
    return Failure{"could not write " + (options.out / "timeline.html").string()};
  }
  if (files) { // the page right after the summary: people look at it before they read a log
    files->insert(files->begin() + 1, options.out / "timeline.html");
  }
  return files;
}

Result<std::vector<std::filesystem::path>> collect_from_plan(const Plan& plan, std::vector<const Node*> nodes,
                                                             std::vector<const Service*> services,
                                                             const Connector& connector, Output& output,
                                                             CollectOptions options)
{
  if (nodes.empty()) {
    for (const auto& node : plan.inventory.nodes) {
      nodes.push_back(&node);
    }
  }
  auto chosen = sample_nodes(plan, nodes, k_collect_max_nodes, options.left_out);
  if (services.empty()) {
    for (const auto& service : plan.services) {
      services.push_back(&service);
    }
  }
  Cluster cluster(plan, chosen, output, plan.ssh.parallel);
  cluster.connect(connector);
  return run_collect(cluster, services, options);
}

} // namespace deploy
