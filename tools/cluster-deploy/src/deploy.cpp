#include "deploy.hpp"

#include "json_report.hpp"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>

namespace deploy {
namespace {

using Clock = std::chrono::steady_clock;

/// Per-node deploy state shared between the phases.
struct NodeDeploy {
  NodeRelease release;
  ChangeSet changes;
};

std::string human_bytes(std::uint64_t bytes)
{
  if (bytes >= 10 * 1024 * 1024) {
    return std::to_string(bytes / (1024 * 1024)) + " MiB";
  }
  if (bytes >= 10 * 1024) {
    return std::to_string(bytes / 1024) + " KiB";
  }
  return std::to_string(bytes) + " B";
}

std::string describe(const ChangeSet& changes, const NodeRelease& release)
{
  if (changes.nothing_to_do()) {
    return "unchanged (release " + release.id + ")";
  }
  std::string text = "release " + release.id + ": ";
  if (changes.release_on_node) {
    text += "already on the node";
  } else if (changes.release_changed) {
    text += "send " + std::to_string(changes.send.size()) + " files (" + human_bytes(changes.bytes_to_send) +
            "), reuse " + std::to_string(changes.reuse.size());
  } else {
    text += "current";
  }
  std::string restarts;
  for (const auto& service : changes.restart) {
    restarts += (restarts.empty() ? "" : ",") + service;
  }
  std::string removed =
      changes.units_to_remove.empty() ? "" : "; remove " + std::to_string(changes.units_to_remove.size()) + " units";
  return text + "; units to install " + std::to_string(changes.units_to_install.size()) + removed +
         (restarts.empty() ? "" : "; restart " + restarts);
}

Result<void> stage(NodeOps& ops, const NodeDeploy& work, Output& output)
{
  const auto& changes = work.changes;
  if (!changes.release_changed || changes.release_on_node) {
    return {};
  }
  auto resend = ops.prepare_staging(work.release, changes);
  if (!resend) {
    return fail(resend.error());
  }
  std::vector<const ReleaseFile*> uploads = changes.send;
  for (const auto& file : work.release.files) {
    if (std::find(resend->begin(), resend->end(), file.path) != resend->end()) {
      output.progress(ops.node(), file.path + " on the node is not what was deployed: sending it again");
      uploads.push_back(&file);
    }
  }
  for (const ReleaseFile* file : uploads) {
    if (auto sent = ops.upload(work.release, *file); !sent) {
      return sent;
    }
    std::error_code ec;
    auto bytes = std::filesystem::file_size(file->local, ec);
    output.sent(ec ? 0 : static_cast<std::uint64_t>(bytes));
  }
  output.progress(ops.node(), "staged release " + work.release.id);
  return ops.seal(work.release);
}

void stage_node(Cluster& cluster, NodeSlot& slot, NodeDeploy& work, bool dry_run)
{
  auto start = Clock::now();
  auto state = slot.ops->read_state();
  if (!state) {
    cluster.mark_failed(slot, "-", "read state", state.error(), seconds_since(start));
    return;
  }
  work.changes = compute_changes(work.release, *state);
  cluster.output().progress(slot.node->name, (dry_run ? "would deploy: " : "") + describe(work.changes, work.release));
  if (dry_run) {
    return;
  }
  if (auto staged = stage(*slot.ops, work, cluster.output()); !staged) {
    cluster.mark_failed(slot, "-", "stage", staged.error(), seconds_since(start));
  }
}

/// Second phase, once every node is staged: install units and switch `current`.
void activate_node(Cluster& cluster, NodeSlot& slot, const NodeDeploy& work)
{
  if (work.changes.nothing_to_do()) {
    return;
  }
  auto start = Clock::now();
  if (auto activated = slot.ops->activate(work.release, work.changes); !activated) {
    cluster.mark_failed(slot, "-", "activate", activated.error(), seconds_since(start));
  }
}

/// Waits (bounded) until a just-started unit has left "inactive": the bootstrap
/// node must be up before its peers start.
void wait_started(NodeOps& ops, const std::string& service)
{
  auto deadline = Clock::now() + Seconds{30};
  while (Clock::now() < deadline) {
    auto state = ops.unit_state(service);
    if (!state || state->active == "active" || state->active == "failed") {
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
}

/// What `deploy`/`up` do to one service on one node; returns the action name.
Result<std::string> start_action(NodeOps& ops, const Service& service, bool restart)
{
  auto state = ops.unit_state(service.name);
  if (!state) {
    return fail(state.error());
  }
  bool running = state->active == "active" || state->active == "activating";
  if (restart && running) {
    auto done = ops.systemctl("restart", service.name);
    return done ? Result<std::string>{std::string("restarted")} : fail(done.error());
  }
  if (running) {
    return std::string("unchanged");
  }
  auto done = ops.systemctl("start", service.name);
  return done ? Result<std::string>{std::string("started")} : fail(done.error());
}

struct ServiceStep {
  Cluster& cluster;
  const Service& service;
  const HealthOptions& health;
  std::function<bool(const NodeSlot&)> restart;   ///< restart (not just start) on this node?
  std::function<void(NodeSlot&)> on_healthy = {}; ///< called once the service is healthy there
  std::atomic<int> healthy_nodes = 0;
};

void start_on(ServiceStep& step, NodeSlot& slot, std::map<std::string, std::string>& actions, std::mutex& mutex)
{
  auto start = Clock::now();
  auto action = start_action(*slot.ops, step.service, step.restart(slot));
  if (!action) {
    step.cluster.mark_failed(slot, step.service.name, "start", action.error(), seconds_since(start));
    return;
  }
  step.cluster.output().progress(slot.node->name, step.service.name + ": " + *action);
  std::lock_guard lock(mutex);
  actions[slot.node->name] = *action;
}

void check_health_on(ServiceStep& step, NodeSlot& slot, const std::string& action)
{
  auto start = Clock::now();
  auto healthy = wait_healthy(*slot.ops, step.cluster.plan(), *slot.node, step.service, step.health);
  if (!healthy) {
    auto journal = slot.ops->journal_tail(step.service.name, 20);
    step.cluster.output().block(slot.node->name, journal ? *journal : journal.error());
    step.cluster.mark_failed(slot, step.service.name, action, healthy.error(), seconds_since(start));
    return;
  }
  if (step.on_healthy) {
    step.on_healthy(slot);
  }
  ++step.healthy_nodes;
  step.cluster.output().add(SummaryRow{slot.node->name, step.service.name, action, true, "", seconds_since(start)});
}

/// Starts (or restarts) the service on `slots`: the group's bootstrap node first
/// when it is among them, then the rest in parallel, then waits for their health.
/// Returns true when all of them are healthy.
bool run_on(ServiceStep& step, const std::vector<NodeSlot*>& slots)
{
  std::map<std::string, std::string> actions;
  std::mutex mutex;
  auto members = step.cluster.plan().inventory.group(step.service.group);
  NodeSlot* first = members.empty() ? nullptr : step.cluster.find(members.front()->name);
  bool bootstrap_first =
      step.service.bootstrap && first && first->alive() && std::find(slots.begin(), slots.end(), first) != slots.end();
  step.cluster.output().phase("start " + step.service.name);
  if (bootstrap_first) {
    start_on(step, *first, actions, mutex);
    if (first->alive()) {
      wait_started(*first->ops, step.service.name);
    }
  }
  step.cluster.for_each_of(slots, [&](NodeSlot& slot) {
    if (!(bootstrap_first && &slot == first)) {
      start_on(step, slot, actions, mutex);
    }
  });
  step.cluster.output().phase("health " + step.service.name);
  step.cluster.for_each_of(slots, [&](NodeSlot& slot) {
    if (actions.count(slot.node->name)) {
      check_health_on(step, slot, actions.at(slot.node->name));
    }
  });
  return std::all_of(slots.begin(), slots.end(), [](const NodeSlot* slot) { return slot->alive(); });
}

/// Splits the group's nodes into those where a running instance is restarted
/// (rolled SERIAL at a time) and all others (started together).
std::pair<std::vector<NodeSlot*>, std::vector<NodeSlot*>> split_rolling(ServiceStep& step)
{
  std::vector<NodeSlot*> together, rolling;
  std::mutex mutex;
  step.cluster.for_each_in_group(step.service.group, [&](NodeSlot& slot) {
    bool roll = false;
    if (step.service.serial > 0 && step.restart(slot)) { // only then is the unit's state worth a round trip
      auto state = slot.ops->unit_state(step.service.name);
      roll = state && state->running();
    }
    std::lock_guard lock(mutex);
    (roll ? rolling : together).push_back(&slot);
  });
  auto by_inventory_order = [](const NodeSlot* a, const NodeSlot* b) { return a->node < b->node; };
  std::sort(together.begin(), together.end(), by_inventory_order);
  std::sort(rolling.begin(), rolling.end(), by_inventory_order);
  return {together, rolling};
}

/// One service across its group; with SERIAL, running instances restart batch by
/// batch, each healthy before the next, and an unhealthy batch stops the roll.
void run_service_step(ServiceStep& step)
{
  auto [together, rolling] = split_rolling(step);
  run_on(step, together);
  auto batch_size = static_cast<size_t>(std::max(step.service.serial, 1));
  for (size_t begin = 0; begin < rolling.size(); begin += batch_size) {
    std::vector<NodeSlot*> batch(rolling.begin() + static_cast<long>(begin),
                                 rolling.begin() + static_cast<long>(std::min(begin + batch_size, rolling.size())));
    step.cluster.output().progress(batch.front()->node->name, step.service.name + ": rolling restart, " +
                                                                  std::to_string(batch.size()) + " node(s)");
    if (!run_on(step, batch)) {
      for (size_t rest = begin + batch_size; rest < rolling.size(); ++rest) {
        step.cluster.output().add(SummaryRow{rolling[rest]->node->name, step.service.name, "not restarted", false,
                                             "rolling restart stopped: an earlier batch is not healthy", 0});
      }
      return;
    }
  }
}

/// AFTER means "once those are healthy": a service whose dependency is healthy on
/// no node is not started; every node of it gets a summary row saying why.
bool dependencies_healthy(Cluster& cluster, const Service& service, const std::map<std::string, int>& healthy)
{
  for (const auto& dependency : service.after) {
    auto it = healthy.find(dependency);
    if (it != healthy.end() && it->second == 0) {
      cluster.for_each_in_group(service.group, [&](NodeSlot& slot) {
        cluster.output().add(
            SummaryRow{slot.node->name, service.name, "skipped", false, dependency + " is healthy on no node", 0});
      });
      return false;
    }
  }
  return true;
}

/// Runs one step per service in start order, honouring AFTER.
void run_service_steps(Cluster& cluster, const std::vector<const Service*>& services, const HealthOptions& health,
                       const std::function<bool(const Service&, const NodeSlot&)>& restart,
                       const std::function<void(const Service&, NodeSlot&)>& on_healthy)
{
  std::map<std::string, int> healthy;
  for (const Service* service : services) {
    if (!dependencies_healthy(cluster, *service, healthy)) {
      healthy[service->name] = 0;
      continue;
    }
    ServiceStep step{cluster, *service, health, [&](const NodeSlot& slot) { return restart(*service, slot); },
                     [&](NodeSlot& slot) { on_healthy(*service, slot); }};
    run_service_step(step);
    bool selected = std::any_of(cluster.slots().begin(), cluster.slots().end(),
                                [&](const NodeSlot& slot) { return slot.node->group == service->group; });
    if (selected) { // a dependency this run does not touch (--node, --group) is not judged
      healthy[service->name] = step.healthy_nodes;
    }
  }
}

/// What the dry run found for one node, for --json.
NodeChanges changes_view(const NodeSlot& slot, const NodeDeploy& work)
{
  NodeChanges view;
  view.name = slot.node->name;
  view.address = slot.node->address;
  view.group = slot.node->group;
  view.reachable = slot.ops.has_value();
  view.error = slot.failure;
  if (!slot.failure.empty()) {
    return view;
  }
  const ChangeSet& changes = work.changes;
  view.release = work.release.id;
  view.changed = !changes.nothing_to_do() || !changes.restart.empty();
  for (const ReleaseFile* file : changes.send) {
    std::error_code ec;
    auto bytes = std::filesystem::file_size(file->local, ec);
    view.send.push_back({file->path, ec ? 0 : static_cast<std::uint64_t>(bytes)});
  }
  for (const auto& reuse : changes.reuse) {
    view.reuse.push_back(reuse.to);
  }
  view.bytes_to_send = changes.bytes_to_send;
  view.units_to_install = changes.units_to_install;
  view.units_to_remove = changes.units_to_remove;
  view.restart.assign(changes.restart.begin(), changes.restart.end());
  return view;
}

bool finish(Cluster& cluster, const std::string& command, std::optional<bool> changed = std::nullopt)
{
  return cluster.output().print_summary(command, cluster.plan().cluster, changed);
}

} // namespace

Result<void> write_nodes_file(const Plan& plan)
{
  std::error_code ec;
  std::filesystem::create_directories(plan.output_dir, ec);
  std::ofstream out(plan.output_dir / "nodes.txt", std::ios::trunc);
  for (const auto& node : plan.inventory.nodes) {
    out << node.name << ' ' << node.address << ' ' << node.group << '\n';
  }
  if (!out) {
    return fail("cannot write " + (plan.output_dir / "nodes.txt").string());
  }
  return {};
}

std::map<std::string, NodeRelease> render_releases(const Plan& plan, const std::vector<const Node*>& nodes)
{
  std::map<std::string, NodeRelease> releases;
  ProgramHashes hashes;
  for (const Node* node : nodes) {
    releases[node->name] = render_node(plan, *node, hashes).value_or_throw();
  }
  return releases;
}

bool run_deploy(Cluster& cluster, const std::vector<const Service*>& services,
                std::map<std::string, NodeRelease> releases, const DeployOptions& options)
{
  std::map<std::string, NodeDeploy> work;
  for (auto& [name, release] : releases) {
    work[name].release = std::move(release);
  }
  cluster.output().phase(options.dry_run ? "compare" : "stage");
  cluster.for_each_alive([&](NodeSlot& slot) { stage_node(cluster, slot, work.at(slot.node->name), options.dry_run); });
  if (options.dry_run) {
    bool ok = std::all_of(cluster.slots().begin(), cluster.slots().end(),
                          [](const NodeSlot& s) { return s.failure.empty(); });
    if (cluster.output().format() == Format::json) {
      std::vector<NodeChanges> nodes;
      for (const auto& slot : cluster.slots()) {
        nodes.push_back(changes_view(slot, work.at(slot.node->name)));
      }
      std::printf("%s", dry_run_json(cluster.plan().cluster, ok, nodes).c_str());
      std::fflush(stdout);
    }
    return ok;
  }
  cluster.output().phase("activate");
  cluster.for_each_alive([&](NodeSlot& slot) { activate_node(cluster, slot, work.at(slot.node->name)); });
  auto restart = [&](const Service& service, const NodeSlot& slot) {
    return work.at(slot.node->name).changes.restart.count(service.name) != 0;
  };
  auto record = [&](const Service& service, NodeSlot& slot) {
    const NodeDeploy& mine = work.at(slot.node->name);
    if (mine.changes.restart.count(service.name) == 0) {
      return;
    }
    if (auto recorded = slot.ops->record_started(service.name, mine.release.service_digests.at(service.name));
        !recorded) {
      cluster.output().progress(slot.node->name, "warning: " + recorded.error());
    }
  };
  run_service_steps(cluster, services, options.health, restart, record);
  bool changed = std::any_of(work.begin(), work.end(), [](const auto& w) {
    return !w.second.changes.nothing_to_do() || !w.second.changes.restart.empty();
  });
  return finish(cluster, "deploy", changed);
}

bool run_up(Cluster& cluster, const std::vector<const Service*>& services, const HealthOptions& health)
{
  run_service_steps(
      cluster, services, health, [](const Service&, const NodeSlot&) { return false; },
      [](const Service&, NodeSlot&) {});
  return finish(cluster, "up");
}

bool run_down(Cluster& cluster, const std::vector<const Service*>& services)
{
  for (auto it = services.rbegin(); it != services.rend(); ++it) {
    const Service& service = **it;
    cluster.output().phase("stop " + service.name);
    cluster.for_each_in_group(service.group, [&](NodeSlot& slot) {
      auto start = Clock::now();
      auto stopped = slot.ops->systemctl("stop", service.name);
      if (!stopped) {
        cluster.mark_failed(slot, service.name, "stop", stopped.error(), seconds_since(start));
        return;
      }
      cluster.output().add(SummaryRow{slot.node->name, service.name, "stopped", true, "", seconds_since(start)});
    });
  }
  return finish(cluster, "down");
}

bool run_clean(Cluster& cluster, bool purge_data)
{
  std::vector<std::string> names;
  for (auto it = cluster.plan().services.rbegin(); it != cluster.plan().services.rend(); ++it) {
    names.push_back(it->name);
  }
  cluster.output().phase("clean");
  cluster.for_each_alive([&](NodeSlot& slot) {
    auto start = Clock::now();
    auto cleaned = slot.ops->clean(names, purge_data);
    if (!cleaned) {
      cluster.mark_failed(slot, "-", "clean", cleaned.error(), seconds_since(start));
      return;
    }
    cluster.output().add(SummaryRow{slot.node->name, "-", purge_data ? "cleaned, data purged" : "cleaned, data kept",
                                    true, "", seconds_since(start)});
  });
  return finish(cluster, "clean");
}

} // namespace deploy
