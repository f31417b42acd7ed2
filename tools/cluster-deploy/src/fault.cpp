#include "fault.hpp"

#include "console.hpp"
#include "layout.hpp"
#include "leader.hpp"
#include "program_needs.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <set>

namespace deploy {
namespace {

const std::set<std::string> k_selectors = {"one", "minority", "majority", "leader"};

bool contains(const std::vector<const Node*>& nodes, const Node* node)
{
  return std::find(nodes.begin(), nodes.end(), node) != nodes.end();
}

void add_unique(std::vector<const Node*>& nodes, const Node* node)
{
  if (!contains(nodes, node)) {
    nodes.push_back(node);
  }
}

std::string names_of(const std::vector<const Node*>& nodes)
{
  std::string text;
  for (const Node* node : nodes) {
    text += (text.empty() ? "" : ", ") + node->name;
  }
  return text;
}

/// The one group selectors choose from: that of --service, else --group.
Result<std::string> selector_group(const Plan& plan, const Selection& selection, const std::string& selector)
{
  std::set<std::string> groups;
  for (const auto& name : selection.services) {
    if (const Service* service = plan.find_service(name)) {
      groups.insert(service->group);
    }
  }
  if (groups.empty()) {
    groups.insert(selection.groups.begin(), selection.groups.end());
  }
  if (groups.size() != 1) {
    return fail("the selector '" + selector + "' needs one group: give --service <service> or --group <group>");
  }
  return *groups.begin();
}

/// The service whose leader `leader` means: the selected one, else the group's only one with a LEADER query.
Result<const Service*> leader_service(const Plan& plan, const Selection& selection, const std::string& group)
{
  std::vector<const Service*> candidates;
  for (const auto& service : plan.services) {
    bool selected = selection.services.empty() || std::find(selection.services.begin(), selection.services.end(),
                                                            service.name) != selection.services.end();
    if (selected && service.group == group && (!selection.services.empty() || !service.leader.empty())) {
      candidates.push_back(&service);
    }
  }
  if (candidates.size() != 1) {
    return fail("the selector 'leader' needs one service with a LEADER query: give --service <service>");
  }
  return candidates.front();
}

Result<void> add_selected(const Plan& plan, const Selection& selection, const std::string& selector,
                          const LeaderQuery& leader, std::mt19937& random, std::vector<const Node*>& targets)
{
  CD_TRY(group, selector_group(plan, selection, selector));
  if (selector == "leader") {
    CD_TRY(service, leader_service(plan, selection, *group));
    CD_TRY(node, leader(**service));
    add_unique(targets, *node);
    return {};
  }
  auto members = plan.inventory.group(*group);
  size_t n = members.size();
  size_t count = selector == "one" ? 1 : selector == "minority" ? (n - 1) / 2 : n / 2 + 1;
  if (count == 0 || count > n) {
    return fail("group " + *group + " has " + std::to_string(n) + " node(s): no " + selector + " to choose");
  }
  std::shuffle(members.begin(), members.end(), random);
  for (size_t i = 0; i < count; ++i) {
    add_unique(targets, members[i]);
  }
  return {};
}

/// Nodes named by words (node or group names), for --from.
Result<std::vector<const Node*>> nodes_named(const Plan& plan, const std::vector<std::string>& words)
{
  std::vector<const Node*> nodes;
  for (const auto& word : words) {
    if (const Node* node = plan.inventory.find(word)) {
      add_unique(nodes, node);
    } else if (auto group = plan.inventory.group(word); !group.empty()) {
      for (const Node* member : group) {
        add_unique(nodes, member);
      }
    } else {
      return fail("'" + word + "' is no node or group of " + plan.inventory_dir.string());
    }
  }
  return nodes;
}

std::vector<std::string> addresses_of(const std::vector<const Node*>& nodes)
{
  std::vector<std::string> addresses;
  for (const Node* node : nodes) {
    addresses.push_back(bare_address(node->address));
  }
  return addresses;
}

std::string new_fault_id()
{
  auto now = std::chrono::system_clock::now().time_since_epoch();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now).count();
  // Two faults in the same millisecond (two tests at once) still get their own ids.
  return "f" + std::to_string(ms) + std::to_string(std::random_device{}() % 9000 + 1000);
}

/// Each of `a` drops what comes from `b`, and (both_ways) each of `b` what comes from `a`.
void cut(Grudge& grudge, const std::vector<const Node*>& a, const std::vector<const Node*>& b, bool both_ways)
{
  for (const Node* node : a) {
    grudge.emplace_back(node, b);
  }
  if (both_ways) {
    for (const Node* node : b) {
      grudge.emplace_back(node, a);
    }
  }
}

/// The ring's links farther than a majority needs are cut: with n nodes on a ring, a node
/// that keeps the d nearest on each side sees 2d + 1 nodes, a majority when d = ceil((m-1)/2)
/// for m = n/2 + 1. Jepsen's majorities-ring drops one way (a grudge), which for TCP cuts the
/// same links; cutting both ways here says so.
Grudge majorities_ring(const std::vector<const Node*>& ring)
{
  std::size_t n = ring.size();
  std::size_t keep = (n / 2 + 1) / 2; // ceil((m - 1) / 2) with m = n/2 + 1
  Grudge grudge;
  for (std::size_t i = 0; i < n; ++i) {
    std::vector<const Node*> far;
    for (std::size_t j = 0; j < n; ++j) {
      std::size_t distance = std::min((i + n - j) % n, (j + n - i) % n);
      if (distance > keep) {
        far.push_back(ring[j]);
      }
    }
    grudge.emplace_back(ring[i], far);
  }
  return grudge;
}

Result<Grudge> shaped(const std::string& shape, std::vector<const Node*> nodes, std::mt19937& random)
{
  std::size_t least = shape == "halves" ? 2 : shape == "bridge" ? 3 : 4;
  if (shape != "halves" && shape != "bridge" && shape != "majorities-ring") {
    return fail("unknown partition shape '" + shape + "' (halves, majorities-ring or bridge)");
  }
  if (nodes.size() < least) {
    return fail("the shape " + shape + " needs at least " + std::to_string(least) + " target nodes, not " +
                std::to_string(nodes.size()));
  }
  std::shuffle(nodes.begin(), nodes.end(), random);
  if (shape == "majorities-ring") {
    return majorities_ring(nodes);
  }
  auto middle = nodes.begin() + static_cast<std::ptrdiff_t>(nodes.size() / 2);
  std::vector<const Node*> one(nodes.begin(), middle), other(middle, nodes.end());
  if (shape == "bridge") { // the first of the second half reaches both; Jepsen's bridge
    other.erase(other.begin());
  }
  Grudge grudge;
  cut(grudge, one, other, true);
  return grudge;
}

/// The services of `node` that the selection names (all of them when it names none).
std::vector<const Service*> selected_on(const Plan& plan, const Selection& selection, const Node& node)
{
  std::vector<const Service*> services;
  for (const Service* service : plan.services_on(node)) {
    if (selection.services.empty() ||
        std::find(selection.services.begin(), selection.services.end(), service->name) != selection.services.end()) {
      services.push_back(service);
    }
  }
  return services;
}

/// The units of the selected services that run on `node`.
std::vector<std::string> units_on(const Plan& plan, const Selection& selection, const Node& node)
{
  std::vector<std::string> units;
  for (const Service* service : selected_on(plan, selection, node)) {
    units.push_back(NodeLayout{plan.cluster}.unit_name(service->name));
  }
  return units;
}

/// A clock fault reaches a program through libfaketime, which only a dynamically linked
/// program loads and only one that reads the clock through libc uses: refused for a static
/// program, for a Go program (etcd: Go reads the vDSO itself), and for an offset that is not
/// +S or -S seconds.
Result<void> check_clock(const Plan& plan, const Selection& selection, const Node& node, const std::string& offset)
{
  bool sign = !offset.empty() && (offset[0] == '+' || offset[0] == '-');
  if (!sign || offset.size() < 2 || offset.size() > 10 ||
      offset.find_first_not_of("0123456789", 1) != std::string::npos) {
    return fail("bad --offset '" + offset + "': +S or -S seconds, like +300");
  }
  for (const Service* service : selected_on(plan, selection, node)) {
    CD_TRY(needs, read_program_needs(service->program));
    std::string program = service->program.filename().string();
    if (!*needs || (*needs)->interpreter.empty()) {
      return fail("service " + service->name + ": " + program +
                  " is statically linked (or not ELF), so libfaketime cannot change its clock: no clock fault");
    }
    if ((*needs)->go) {
      return fail("service " + service->name + ": " + program +
                  " is a Go program, whose runtime reads the clock without libc, so libfaketime cannot change it: "
                  "no clock fault");
    }
  }
  return {};
}

/// The names of the selected services on `node`.
std::vector<std::string> service_names_on(const Plan& plan, const Selection& selection, const Node& node)
{
  std::vector<std::string> names;
  for (const Service* service : selected_on(plan, selection, node)) {
    names.push_back(service->name);
  }
  return names;
}

/// corrupt's arguments on `node`: mode, the number that picks the bit, service, file.
Result<std::vector<std::string>> corrupt_args(const Plan& plan, const Selection& selection, const Node& node,
                                              const FaultOptions& options, std::mt19937& random)
{
  auto services = service_names_on(plan, selection, node);
  if (services.size() != 1) {
    return fail(node.name + " runs " + std::to_string(services.size()) +
                " of the selected services: corrupt needs one, give --service <service>");
  }
  return std::vector<std::string>{options.mode, std::to_string(random()), services.front(), options.file};
}

/// One node's part of a fault: what to run there.
struct FaultStep {
  NodeSlot* slot;
  std::string kind;
  std::vector<std::string> args;
  std::string what; ///< for the progress line
};

Result<std::vector<FaultStep>> plan_steps(Cluster& cluster, const Selection& selection, const FaultOptions& options,
                                          const std::vector<const Node*>& targets, std::mt19937& random)
{
  const Plan& plan = cluster.plan();
  std::vector<FaultStep> steps;
  auto slot_of = [&](const Node* node) { return cluster.find(node->name); };
  if (is_link_fault(options.kind)) {
    CD_TRY(grudge, fault_grudge(plan, options, targets, random));
    std::string first; // loss: the share dropped; slow: the rate in bytes per second
    std::string what = options.one_way ? "hears nothing from " : "cut off from ";
    if (options.kind == "loss") {
      first = std::to_string(options.percent);
      what = "loses " + first + "% of the packets from ";
    } else if (options.kind == "slow") {
      CD_TRY(bytes, rate_bytes_per_second(options.rate));
      first = std::to_string(*bytes);
      what = "takes at most " + options.rate + " from each of ";
    }
    for (const auto& [node, peers] : *grudge) {
      auto args = addresses_of(peers);
      if (!first.empty()) {
        args.insert(args.begin(), first);
      }
      steps.push_back({slot_of(node), options.kind, args, what + names_of(peers)});
    }
    return steps;
  }
  std::string kind = options.kind == "kill" && options.keep_down ? "kill-keep-down" : options.kind;
  for (const Node* node : targets) {
    auto units = units_on(plan, selection, *node);
    if (units.empty()) {
      return fail(node->name + " runs none of the selected services: nothing to " + options.kind);
    }
    std::string what = kind == "clock" ? "clock " + options.offset + " s for" : kind;
    for (const auto& unit : units) {
      what += " " + unit;
    }
    if (kind == "clock") {
      CD_TRY_VOID(check_clock(plan, selection, *node, options.offset));
      units.insert(units.begin(), options.offset);
    } else if (kind == "disk-full") {
      units = service_names_on(plan, selection, *node);
      what = "fills the disk of" + what.substr(kind.size());
    } else if (kind == "corrupt") {
      CD_TRY(args, corrupt_args(plan, selection, *node, options, random));
      units = *args;
      what = options.mode + " of " + units[2] + "'s " + options.file;
    }
    steps.push_back({slot_of(node), kind, units, what});
  }
  return steps;
}

} // namespace

Result<std::vector<const Node*>> resolve_targets(const Plan& plan, const Selection& selection,
                                                 const std::vector<std::string>& words, const LeaderQuery& leader,
                                                 std::mt19937& random)
{
  std::vector<const Node*> targets;
  bool selector_given = false;
  for (const auto& word : words) {
    if (k_selectors.count(word) != 0) {
      selector_given = true;
      CD_TRY_VOID(add_selected(plan, selection, word, leader, random, targets));
      continue;
    }
    auto named = nodes_named(plan, {word});
    if (!named) {
      return fail("target " + named.error() + " (nor one, minority, majority or leader)");
    }
    for (const Node* node : *named) {
      add_unique(targets, node);
    }
  }
  for (const auto& name : selection.nodes) {
    if (const Node* node = plan.inventory.find(name)) {
      add_unique(targets, node);
    }
  }
  if (!selector_given) {
    for (const auto& group : selection.groups) {
      for (const Node* node : plan.inventory.group(group)) {
        add_unique(targets, node);
      }
    }
  }
  if (targets.empty()) {
    return fail("no target: name nodes or groups, or one, minority, majority or leader with --service");
  }
  return targets;
}

Result<Grudge> fault_grudge(const Plan& plan, const FaultOptions& options, const std::vector<const Node*>& targets,
                            std::mt19937& random)
{
  if (!options.shape.empty()) {
    return shaped(options.shape, targets, random);
  }
  std::vector<const Node*> others;
  if (!options.from.empty()) {
    CD_TRY(from, nodes_named(plan, options.from));
    others = *from;
  } else {
    for (const auto& node : plan.inventory.nodes) {
      others.push_back(&node);
    }
  }
  std::erase_if(others, [&](const Node* node) { return contains(targets, node); });
  if (others.empty()) {
    return fail("nothing to cut the targets off from: every node is a target");
  }
  // Jepsen's way: each side drops what comes from the other, so both directions are cut (or
  // lossy, or slow) and the controller, which is on neither list, still reaches every node.
  Grudge grudge;
  cut(grudge, targets, others, !options.one_way);
  return grudge;
}

Result<void> check_corrupt_file(const std::string& file)
{
  bool inside = !file.empty() && file.front() != '/' && file != ".." && !file.starts_with("../") &&
                file.find("/../") == std::string::npos && !file.ends_with("/..");
  bool one_word = std::none_of(file.begin(), file.end(), [](char c) {
    return std::isspace(static_cast<unsigned char>(c)) || std::iscntrl(static_cast<unsigned char>(c));
  });
  if (!inside || !one_word) {
    return fail("bad --file '" + file + "': a file under the service's data folder, relative to it, like member/snap/db");
  }
  return {};
}

Result<long> rate_bytes_per_second(const std::string& rate)
{
  std::size_t digits = 0;
  while (digits < rate.size() && std::isdigit(static_cast<unsigned char>(rate[digits]))) {
    ++digits;
  }
  std::string unit = rate.substr(digits);
  long scale = unit == "kbit" ? 1000 : unit == "mbit" ? 1000 * 1000 : 0;
  if (digits == 0 || digits > 6 || scale == 0 || std::stol(rate.substr(0, digits)) == 0) {
    return fail("bad rate '" + rate + "': a number of kbit or mbit per second, like 500kbit or 8mbit");
  }
  return std::stol(rate.substr(0, digits)) * scale / 8;
}

/// `fault resume`: ends the pause faults on `targets` early; prints their names.
bool resume_paused(Cluster& cluster, const std::vector<const Node*>& targets)
{
  std::vector<NodeSlot*> slots;
  for (const Node* node : targets) {
    slots.push_back(cluster.find(node->name));
  }
  cluster.for_each_of(slots, [&](NodeSlot& slot) {
    auto healed = slot.ops->heal_faults("pause");
    if (!healed) {
      cluster.mark_failed(slot, "-", "resume", healed.error(), 0);
      return;
    }
    cluster.output().progress(slot.node->name, healed->empty() ? "nothing paused" : "resumed");
  });
  bool ok = true;
  for (const Node* node : targets) {
    ok = ok && cluster.find(node->name)->failure.empty();
    print_out(node->name + "\n");
  }
  return ok;
}

/// The fault's targets, every one reachable (else Error, exit 1: nothing applied).
std::vector<const Node*> reachable_targets(Cluster& cluster, const Selection& selection, const FaultOptions& options,
                                           std::mt19937& random)
{
  bool asked_nodes = false; // a failed LEADER query happened on nodes: exit 1, not 2
  auto targets = resolve_targets(
                     cluster.plan(), selection, options.targets,
                     [&](const Service& service) {
                       asked_nodes = true;
                       return query_leader(cluster, service);
                     },
                     random)
                     .value_or_throw(asked_nodes ? 1 : 2);
  for (const Node* node : targets) {
    NodeSlot* slot = cluster.find(node->name);
    if (!slot || !slot->alive()) {
      throw Error("target " + node->name + " is unreachable: no fault applied", 1);
    }
  }
  return targets;
}

bool run_fault(Cluster& cluster, const Selection& selection, const FaultOptions& options)
{
  if (options.kind == "resume") {
    std::mt19937 random{std::random_device{}()};
    return resume_paused(cluster, reachable_targets(cluster, selection, options, random));
  }
  bool ok = true;
  for (const Node* node : apply_fault(cluster, selection, options, ok)) {
    print_out(node->name + "\n");
  }
  std::fflush(stdout);
  return ok;
}

std::vector<const Node*> apply_fault(Cluster& cluster, const Selection& selection, const FaultOptions& options,
                                     bool& ok)
{
  unsigned seed = options.seed.value_or(std::random_device{}());
  std::mt19937 random{seed};
  auto targets = reachable_targets(cluster, selection, options, random);
  auto steps = plan_steps(cluster, selection, options, targets, random).value_or_throw();
  bool chose = !options.shape.empty() || std::any_of(options.targets.begin(), options.targets.end(),
                                                     [](const std::string& w) { return k_selectors.count(w) != 0; });
  if (chose && !options.seed) {
    cluster.output().note("random choices of seed " + std::to_string(seed) + " (--seed " + std::to_string(seed) +
                          " makes them again)");
  }
  std::string id = new_fault_id();
  std::vector<NodeSlot*> slots;
  for (const auto& step : steps) {
    slots.push_back(step.slot);
  }
  std::mutex mutex;
  cluster.for_each_of(slots, [&](NodeSlot& slot) {
    for (const auto& step : steps) {
      if (step.slot != &slot) {
        continue;
      }
      auto applied = slot.ops->apply_fault(id, options.seconds, step.kind, step.args);
      if (!applied) {
        cluster.mark_failed(slot, "-", options.kind, applied.error(), 0);
        std::lock_guard lock(mutex);
        ok = false;
        return;
      }
      std::string until = step.kind == "kill" ? "" : " for " + std::to_string(options.seconds) + "s";
      cluster.output().progress(slot.node->name, step.what + until + " (fault " + id + ")");
    }
  });
  for (const auto& step : steps) {
    if (!step.slot->alive()) {
      ok = false; // a node on the other side of a partition was unreachable
    }
  }
  return targets;
}

bool run_heal(Cluster& cluster)
{
  cluster.for_each_alive([&](NodeSlot& slot) {
    auto healed = slot.ops->heal_faults();
    if (!healed) {
      cluster.mark_failed(slot, "-", "heal", healed.error(), 0);
      return;
    }
    for (const auto& line : *healed) {
      cluster.output().progress(slot.node->name, line);
    }
  });
  bool ok = true;
  for (const auto& slot : cluster.slots()) {
    ok = ok && slot.alive();
  }
  return ok;
}

bool run_leader(Cluster& cluster, const std::vector<const Service*>& services)
{
  std::vector<const Service*> with_query;
  for (const Service* service : services) {
    if (!service->leader.empty()) {
      with_query.push_back(service);
    }
  }
  if (with_query.size() != 1) {
    throw Error("leader needs one service with a LEADER query: give --service <service>");
  }
  auto leader = query_leader(cluster, *with_query.front());
  if (!leader) {
    print_note("error: " + leader.error());
    return false;
  }
  print_out((*leader)->name + "\n");
  return true;
}

} // namespace deploy
