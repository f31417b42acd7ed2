#include "rollout.hpp"

#include "member_changes.hpp"

#include "crash_point.hpp"
#include "interrupt.hpp"
#include "leader.hpp"
#include "parallel.hpp"
#include "release.hpp"
#include "render.hpp"

#include <algorithm>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

namespace deploy {
namespace {

using Clock = std::chrono::steady_clock;

/// State of one run across services.
struct Rollout {
  Cluster& cluster;
  ClusterChanges& changes;
  const HealthOptions& health;
  const std::function<void(const Service&, NodeSlot&)>& on_healthy;
  std::map<std::string, std::set<std::string>> touched; ///< node -> services (re)started in this run
  std::map<std::string, std::set<std::string>> seen_running; ///< node -> services left running as they were
  /// node -> service -> when this run asked for its (re)start there (under `mutex`)
  std::map<std::string, std::map<std::string, Clock::time_point>> requested;
  std::set<std::string> settled; ///< services of which a (re)started instance has passed its settle window
  std::string stopped_by; ///< the service whose failures stopped the rollout (under `mutex`)
  std::string roll_back_why; ///< non-empty: every node switched in this run goes back, saying this
  std::mutex mutex;

  /// Stops the rollout at `service`; with a reason, every node switched in this run goes
  /// back once the services running at the same time have ended their batch.
  void stop(const Service& service, const std::string& why_roll_back = "")
  {
    std::lock_guard lock(mutex);
    if (stopped_by.empty()) {
      stopped_by = service.name;
      roll_back_why = why_roll_back;
    }
  }
  std::string stopped() // the service (or signal) that stopped the rollout, or empty
  {
    std::lock_guard lock(mutex);
    if (stopped_by.empty() && interrupted()) {
      stopped_by = interrupt_name();
    }
    return stopped_by;
  }

  NodeChange* change_of(const NodeSlot& slot)
  {
    auto it = changes.find(slot.node->name);
    return it == changes.end() ? nullptr : &it->second;
  }
  /// The service's unit as the lock's round trip read it at the start of this run, if it did.
  const UnitState* unit_before(const NodeSlot& slot, const Service& service)
  {
    const NodeChange* change = change_of(slot);
    if (!change) {
      return nullptr;
    }
    auto it = change->units_before.find(service.name);
    return it == change->units_before.end() ? nullptr : &it->second;
  }
  std::optional<Clock::time_point> requested_at(const NodeSlot& slot, const Service& service)
  {
    std::lock_guard lock(mutex);
    auto node = requested.find(slot.node->name);
    if (node == requested.end() || node->second.count(service.name) == 0) {
      return std::nullopt;
    }
    return node->second.at(service.name);
  }
  bool restart_due(const Service& service, const NodeSlot& slot)
  {
    const NodeChange* change = change_of(slot);
    return change && change->changes.restart.count(service.name) != 0;
  }
};

/// The run's health options with the service's own settle window (SETTLE) if it has one.
HealthOptions settle_of(const Rollout& r, const Service& service)
{
  HealthOptions options = r.health;
  if (service.settle >= 0) {
    options.settle = Seconds{service.settle};
  }
  return options;
}

/// True while the node has a release of this run to switch to.
bool switch_due(Rollout& r, NodeSlot& slot)
{
  const NodeChange* change = r.change_of(slot);
  return slot.alive() && change && !change->switched && !change->changes.nothing_to_do();
}

/// The node switches to its new release (units, `current`) at the turn of the first of its
/// services to (re)start in this run (switch_due), and restarts that service in the same step.
bool switch_release(Rollout& r, NodeSlot& slot, const Service& service)
{
  NodeChange* change = r.change_of(slot);
  auto start = Clock::now();
  change->switched = true; // even a half-done switch is one to go back from,
  {
    std::lock_guard lock(r.mutex); // and its service may have restarted: going back restarts it
    r.touched[slot.node->name].insert(service.name);
  }
  if (auto activated = slot.ops->activate(change->release, change->changes, change->reason, {service.name});
      !activated) {
    r.cluster.mark_failed(slot, "-", "activate", activated.error(), seconds_since(start));
    return false;
  }
  r.cluster.output().progress(slot.node->name, "switched to release " + change->release.id);
  crash_point("switched");
  return true;
}

/// From `from` back to `back`: every unit of `back` installed again, those only `from` has removed.
ChangeSet changes_going_back(const NodeRelease& from, const NodeRelease& back)
{
  ChangeSet changes;
  changes.release_changed = true;
  for (const auto& file : back.files) {
    if (auto unit = NodeLayout::unit_of_release_path(file.path); !unit.empty()) {
      changes.units_to_install.push_back(unit);
    }
  }
  for (const auto& file : from.files) {
    bool kept = std::any_of(back.files.begin(), back.files.end(), [&](const auto& f) { return f.path == file.path; });
    if (auto unit = NodeLayout::unit_of_release_path(file.path); !unit.empty() && !kept) {
      changes.units_to_remove.push_back(unit);
    }
  }
  return changes;
}

/// Back to the release the node had before this run, restarting what this run
/// (re)started there; rows say "rolled back".
void switch_back(Rollout& r, NodeSlot& slot, const std::string& why)
{
  NodeChange* change = r.change_of(slot);
  if (!change || !change->switched || !slot.ops) {
    return;
  }
  auto start = Clock::now();
  r.cluster.output().phase("roll back");
  const Plan& plan = r.cluster.plan();
  std::set<std::string> services;
  {
    std::lock_guard lock(r.mutex);
    services = r.touched[slot.node->name];
  }
  auto report = [&](const std::string& action, bool ok, const std::string& detail) {
    for (const auto& service : services) {
      r.cluster.output().add(SummaryRow{slot.node->name, service, action, ok, detail, seconds_since(start)});
    }
  };
  if (change->before.current_id.empty()) {
    report("not rolled back", false, why + "; no earlier release on the node to go back to");
    return;
  }
  NodeRelease back = release_from_manifest(plan, *slot.node, change->before.files);
  ChangeSet back_changes = changes_going_back(change->release, back);
  back.id = change->before.current_id; // the folder's name, even if it was made by an older rule
  // Going back from a deploy pops it from deploy.log's history; going back from a failed
  // rollback puts the release it left back on top.
  const char* reason = change->reason == "rollback" ? "deploy" : "back";
  // What this run (re)started there restarts in the same step, back on the old release.
  if (auto activated = slot.ops->activate(back, back_changes, reason, {services.begin(), services.end()});
      !activated) {
    report("not rolled back", false, why + "; switching back failed: " + activated.error());
    return;
  }
  change->switched = false;
  crash_point("switched-back");
  std::string detail = why + "; back on release " + back.id;
  for (const auto& name : services) {
    const Service* service = plan.find_service(name);
    HealthOptions options = settle_of(r, *service);
    options.requested = start; // activate() above restarted it
    auto healthy = wait_healthy(*slot.ops, plan, *slot.node, *service, options);
    auto old = change->before.started.find(name);
    (void)slot.ops->record_started(name, old == change->before.started.end() ? "none" : old->second);
    r.cluster.output().progress(slot.node->name, name + ": rolled back to release " + back.id +
                                                     (healthy ? "" : " (" + healthy.error() + ")"));
    r.cluster.output().add(SummaryRow{slot.node->name, name, "rolled back", false,
                                      healthy ? detail : detail + ", but " + healthy.error(), seconds_since(start)});
  }
}

/// What `deploy`/`up` do to one service on one node; returns the action name.
/// `running_now` says whether a service left as it was is running (not starting).
/// `seen`: its unit as read earlier in this run, if it was.
Result<std::string> start_action(NodeOps& ops, const Service& service, bool restart, bool& running_now,
                                 const UnitState* seen)
{
  if (!restart && seen && seen->running()) { // left as it was: its health check follows
    running_now = true;
    return std::string("unchanged");
  }
  if (restart && seen) { // `systemctl restart` starts a stopped unit too: the reading only names the action
    bool was_running = seen->active == "active" || seen->active == "activating";
    auto done = ops.systemctl("restart", service.name);
    return done ? Result<std::string>{std::string(was_running ? "restarted" : "started")} : fail(done.error());
  }
  CD_TRY(state, ops.unit_state(service.name));
  bool running = state->active == "active" || state->active == "activating";
  if (restart && running) {
    auto done = ops.systemctl("restart", service.name);
    return done ? Result<std::string>{std::string("restarted")} : fail(done.error());
  }
  if (running) {
    running_now = state->running();
    return std::string("unchanged");
  }
  auto done = ops.systemctl("start", service.name);
  return done ? Result<std::string>{std::string("started")} : fail(done.error());
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

/// What a restart does to a service seen as `seen` (read now if it was not): the action's name.
Result<std::string> restart_action(NodeOps& ops, const Service& service, const UnitState* seen)
{
  std::optional<UnitState> read;
  if (!seen) {
    CD_TRY(state, ops.unit_state(service.name));
    read = *state;
    seen = &*read;
  }
  bool was_running = seen->active == "active" || seen->active == "activating";
  return std::string(was_running ? "restarted" : "started");
}

void start_on(Rollout& r, const Service& service, NodeSlot& slot, std::map<std::string, std::string>& actions)
{
  auto start = Clock::now();
  bool restart = r.restart_due(service, slot);
  if (restart && !slot.alive()) {
    return;
  }
  const UnitState* seen = r.unit_before(slot, service);
  bool running_now = false;
  // The node moves to its new release at the turn of its first service due, restarting that
  // service in the same step.
  bool switching = restart && switch_due(r, slot);
  auto action = switching ? restart_action(*slot.ops, service, seen)
                          : start_action(*slot.ops, service, restart, running_now, seen);
  if (action && switching && !switch_release(r, slot, service)) {
    return;
  }
  if (!action) {
    r.cluster.mark_failed(slot, service.name, "start", action.error(), seconds_since(start));
    return;
  }
  r.cluster.output().progress(slot.node->name, service.name + ": " + *action);
  crash_point("started");
  std::lock_guard lock(r.mutex);
  actions[slot.node->name] = *action;
  if (running_now) {
    r.seen_running[slot.node->name].insert(service.name);
  }
  if (*action != "unchanged") {
    r.touched[slot.node->name].insert(service.name);
    r.requested[slot.node->name][service.name] = start;
  }
}

/// The digest on_healthy records for a service this run restarted on the node (the look that
/// finds it healthy records it on the way), or empty.
std::string digest_to_record(Rollout& r, const Service& service, const NodeSlot& slot)
{
  const NodeChange* change = r.change_of(slot);
  if (!change || change->changes.restart.count(service.name) == 0) {
    return "";
  }
  auto digest = change->release.service_digests.find(service.name);
  return digest == change->release.service_digests.end() ? "" : digest->second;
}

void check_health_on(Rollout& r, const Service& service, NodeSlot& slot, const std::string& action)
{
  auto start = Clock::now();
  HealthOptions options = settle_of(r, service);
  options.requested = r.requested_at(slot, service);
  if (action == "unchanged") {
    options.settle = Seconds{0}; // not (re)started by this run: nothing to settle
  } else {
    options.record = digest_to_record(r, service, slot);
    // The first batch (the canary) proved that this run's release stays up for the window;
    // later batches are gated by their probe. Without a probe, "active" alone proves too
    // little, so every batch settles.
    std::lock_guard lock(r.mutex);
    if (service.health.kind != Health::Kind::none && r.settled.count(service.name) != 0) {
      options.settle = Seconds{0};
    }
  }
  // Left running as it was, and seen running a moment ago: its probe is the check (one
  // round trip fewer per service and node); only a failing probe waits and looks again.
  // When this run has (re)started nothing anywhere yet, the probe that passed with the lock
  // is that check: no round trip at all.
  bool seen_running = false, passed = false;
  if (action == "unchanged") {
    std::lock_guard lock(r.mutex); // the nodes are checked in parallel
    auto it = r.seen_running.find(slot.node->name);
    seen_running = it != r.seen_running.end() && it->second.count(service.name) != 0;
    passed = seen_running &&
             std::all_of(r.touched.begin(), r.touched.end(), [](const auto& node) { return node.second.empty(); });
    if (passed) {
      auto answer = slot.ops->answer_read_ahead(probe_ask(service.name));
      passed = answer && answer->succeeded();
    }
  }
  auto healthy = seen_running && !passed ? probe_once(*slot.ops, r.cluster.plan(), *slot.node, service)
                                         : Result<void>{};
  if (!seen_running || !healthy) {
    healthy = wait_healthy(*slot.ops, r.cluster.plan(), *slot.node, service, options);
  }
  if (!healthy) {
    auto journal = slot.ops->journal_tail(service.name, 20);
    r.cluster.output().block(slot.node->name, journal ? *journal : journal.error());
    r.cluster.mark_failed(slot, service.name, action, healthy.error(), seconds_since(start));
    return;
  }
  if (action != "unchanged") {
    crash_point("healthy");
    r.on_healthy(service, slot);
  }
  if (options.settle.count() > 0) {
    std::lock_guard lock(r.mutex);
    r.settled.insert(service.name);
  }
  r.cluster.output().add(SummaryRow{slot.node->name, service.name, action, true, "", seconds_since(start)});
}

/// Starts (or restarts) the service on `slots`: the group's bootstrap node first
/// when it is among them, then the rest in parallel, each node's health checked as soon as
/// it has started there (its settle window runs while the others start). A node where it was
/// left running as it was is checked once every start is done: another node's restart may
/// change what its probe says. Returns the slots that failed.
std::vector<NodeSlot*> run_on(Rollout& r, const Service& service, const std::vector<NodeSlot*>& slots)
{
  std::map<std::string, std::string> actions;
  auto members = r.cluster.plan().inventory.group(service.group);
  NodeSlot* first = members.empty() ? nullptr : r.cluster.find(members.front()->name);
  bool bootstrap_first =
      service.bootstrap && first && first->alive() && std::find(slots.begin(), slots.end(), first) != slots.end();
  r.cluster.output().phase("start " + service.name);
  if (bootstrap_first) {
    start_on(r, service, *first, actions);
    if (first->alive() && actions[first->node->name] != "unchanged") { // it was running already
      wait_started(*first->ops, service.name);
    }
  }
  std::vector<NodeSlot*> unchanged;
  auto action_of = [&](const NodeSlot& slot) {
    std::lock_guard lock(r.mutex); // start_on writes `actions` under it
    auto it = actions.find(slot.node->name);
    return it == actions.end() ? std::optional<std::string>{} : it->second;
  };
  r.cluster.for_each_then(
      slots,
      [&](NodeSlot& slot) {
        if (!(bootstrap_first && &slot == first)) {
          start_on(r, service, slot, actions);
        }
      },
      [&](NodeSlot& slot) {
        auto action = action_of(slot);
        if (action && *action == "unchanged") {
          std::lock_guard lock(r.mutex);
          unchanged.push_back(&slot);
        } else if (action) {
          check_health_on(r, service, slot, *action);
        }
      });
  r.cluster.output().phase("health " + service.name);
  r.cluster.for_each_of(unchanged, [&](NodeSlot& slot) { check_health_on(r, service, slot, "unchanged"); });
  std::vector<NodeSlot*> failed;
  std::copy_if(slots.begin(), slots.end(), std::back_inserter(failed), [](NodeSlot* s) { return !s->alive(); });
  return failed;
}

/// The group's own view of itself (QUORUM exec), on one healthy node, retried until
/// it passes or the health timeout ends.
Result<void> quorum_gate(Rollout& r, const Service& service)
{
  return check_quorum(r.cluster, service, r.health.timeout);
}

/// Running instances that must restart, in roll order (the leader last); the others
/// (not running, or nothing to restart) go into `together`. A node whose state cannot
/// be read is marked failed, never restarted out of turn.
std::vector<NodeSlot*> split_rolling(Rollout& r, const Service& service, std::vector<NodeSlot*>& together)
{
  std::vector<NodeSlot*> rolling;
  r.cluster.for_each_in_group(service.group, [&](NodeSlot& slot) {
    bool roll = false;
    if (r.restart_due(service, slot)) {
      // Read with the lock at the start of the run; else read now.
      const UnitState* seen = r.unit_before(slot, service);
      auto state = seen ? Result<UnitState>{*seen} : slot.ops->unit_state(service.name);
      if (!state) {
        r.cluster.mark_failed(slot, service.name, "read state", state.error(), 0);
        return;
      }
      roll = state->running() || state->active == "activating";
    }
    std::lock_guard lock(r.mutex);
    (roll ? rolling : together).push_back(&slot);
  });
  auto by_inventory_order = [](const NodeSlot* a, const NodeSlot* b) { return a->node < b->node; };
  std::sort(together.begin(), together.end(), by_inventory_order);
  std::sort(rolling.begin(), rolling.end(), by_inventory_order);
  if (!service.leader.empty() && rolling.size() > 1) {
    auto leader = query_leader(r.cluster, service);
    if (!leader) {
      r.cluster.output().progress(rolling.front()->node->name,
                                  service.name + ": warning: " + leader.error() + "; rolling in inventory order");
    } else if (auto it =
                   std::find_if(rolling.begin(), rolling.end(), [&](const NodeSlot* s) { return s->node == *leader; });
               it != rolling.end()) {
      std::rotate(it, it + 1, rolling.end());
      r.cluster.output().progress((*leader)->name, service.name + ": leads the group, restarts last");
    }
  }
  return rolling;
}

/// Nodes of a group that must keep its quorum go back one at a time, each healthy again before the next.
bool one_at_a_time(const Plan& plan, const std::vector<NodeSlot*>& slots)
{
  return std::any_of(slots.begin(), slots.end(), [&](const NodeSlot* slot) {
    auto services = plan.services_on(*slot->node);
    return std::any_of(services.begin(), services.end(), [](const Service* s) { return s->is_quorum_group(); });
  });
}

/// Goes back on every node switched in this run, in parallel.
void switch_back_all(Rollout& r, const std::string& why)
{
  std::vector<NodeSlot*> switched;
  for (auto& slot : r.cluster.slots()) {
    NodeChange* change = r.change_of(slot);
    if (change && change->switched) {
      switched.push_back(&slot);
    }
  }
  // The failed nodes first (they are down already), then the others. A group that must keep
  // its quorum goes back one node at a time, each healthy again before the next.
  std::stable_partition(switched.begin(), switched.end(), [](const NodeSlot* s) { return !s->alive(); });
  // Failed nodes are among them: not for_each_of, which skips those.
  run_parallel(switched.size(), one_at_a_time(r.cluster.plan(), switched) ? 1 : 0,
               [&](size_t i) { switch_back(r, *switched[i], why); });
}

void not_restarted(Rollout& r, const Service& service, const std::vector<NodeSlot*>& slots, const std::string& why)
{
  for (NodeSlot* slot : slots) {
    r.cluster.output().add(SummaryRow{slot->node->name, service.name, "not restarted", false, why, 0});
  }
}

/// One batch of a rolling restart: (re)starts `service` on `batch`, then its group must be
/// whole (QUORUM). Returns the slots that failed (all of the batch when the group is not whole).
std::vector<NodeSlot*> run_batch(Rollout& r, const Service& service, const std::vector<NodeSlot*>& batch)
{
  std::string names;
  for (const NodeSlot* slot : batch) {
    names += (names.empty() ? "" : ", ") + slot->node->name;
  }
  r.cluster.output().progress(batch.front()->node->name, service.name + ": rolling restart, " +
                                                             std::to_string(batch.size()) + " node(s): " + names);
  auto batch_failed = run_on(r, service, batch);
  if (batch_failed.empty()) {
    if (auto whole = quorum_gate(r, service); !whole) {
      for (NodeSlot* slot : batch) {
        r.cluster.mark_failed(*slot, service.name, "quorum", whole.error(), 0);
      }
      batch_failed = batch;
    }
  }
  return batch_failed;
}

/// The new members of the service's group in this run (JOIN), taken out of `together`.
std::vector<NodeSlot*> take_joining(Rollout& r, const Service& service, std::vector<NodeSlot*>& together)
{
  std::vector<NodeSlot*> joining;
  std::erase_if(together, [&](NodeSlot* slot) {
    NodeChange* change = r.change_of(*slot);
    bool joins = change && change->joins.count(service.name) != 0;
    if (joins) {
      joining.push_back(slot);
    }
    return joins;
  });
  return joining;
}

/// New members join one at a time: the group whole, JOIN on a member, the new one started
/// and healthy, the group whole again (QUORUM), then the next. False when one could not.
bool join_one_at_a_time(Rollout& r, const Service& service, const std::vector<NodeSlot*>& joining)
{
  for (std::size_t i = 0; i < joining.size(); ++i) {
    NodeSlot& slot = *joining[i];
    auto ready = quorum_gate(r, service);
    auto announced = ready ? announce_join(r.cluster, service, slot, r.changes) : ready;
    if (!announced) {
      r.cluster.mark_failed(slot, service.name, "join", announced.error(), 0);
    } else if (run_batch(r, service, {&slot}).empty()) {
      r.changes[slot.node->name].joins.erase(service.name); // a member now: may run the next JOIN
      (void)slot.ops->note_member(service.name, slot.node->name, "joined"); // evidence only
      continue;
    }
    std::vector<NodeSlot*> rest(joining.begin() + static_cast<long>(i) + 1, joining.end());
    not_restarted(r, service, rest, "the rollout stopped: " + slot.node->name + " could not join");
    r.stop(service); // the members that joined stay: going back would not take them out of the group
    return false;
  }
  return true;
}

/// One service across its group. Returns false when the rollout must stop.
bool run_service(Rollout& r, const Service& service)
{
  std::vector<NodeSlot*> together;
  auto rolling = split_rolling(r, service, together);
  auto joining = take_joining(r, service, together);
  for (NodeSlot* slot : run_on(r, service, together)) {
    switch_back(r, *slot, service.name + " did not become healthy");
  }
  if (!joining.empty() && !join_one_at_a_time(r, service, joining)) {
    return false;
  }
  if (rolling.empty()) {
    return true;
  }
  int group_size = static_cast<int>(r.cluster.plan().inventory.group(service.group).size());
  auto sizes = batch_sizes(service, static_cast<int>(rolling.size()), group_size);
  int budget = service.max_fail.of(static_cast<int>(rolling.size()));
  if (auto whole = quorum_gate(r, service); !whole) {
    not_restarted(r, service, rolling, "the group is not whole before the roll: " + whole.error());
    r.stop(service);
    return false;
  }
  int failed = 0;
  size_t begin = 0;
  for (int size : sizes) {
    if (auto by = r.stopped(); !by.empty()) { // by a service rolling at the same time
      not_restarted(r, service, std::vector<NodeSlot*>(rolling.begin() + static_cast<long>(begin), rolling.end()),
                    "the rollout stopped at " + by);
      return false;
    }
    std::vector<NodeSlot*> batch(rolling.begin() + static_cast<long>(begin),
                                 rolling.begin() + static_cast<long>(begin + static_cast<size_t>(size)));
    begin += static_cast<size_t>(size);
    auto batch_failed = run_batch(r, service, batch);
    failed += static_cast<int>(batch_failed.size());
    if (failed > budget) {
      std::string why = service.name + ": " + std::to_string(failed) + " node(s) failed, " +
                        (service.max_fail.given() ? "more than MAX_FAIL allows" : "and MAX_FAIL allows none");
      r.cluster.output().progress(batch.front()->node->name, why + ": rolling back every node switched in this run");
      not_restarted(r, service, std::vector<NodeSlot*>(rolling.begin() + static_cast<long>(begin), rolling.end()),
                    "the rollout stopped: " + why);
      r.stop(service, why);
      return false;
    }
    for (NodeSlot* slot : batch_failed) {
      switch_back(r, *slot, service.name + " did not become healthy (tolerated by MAX_FAIL)");
    }
    if (!batch_failed.empty() && begin < rolling.size()) {
      if (auto whole = quorum_gate(r, service); !whole) { // the group must be whole before the next batch
        std::string why = service.name + ": the group is not whole after a tolerated failure: " + whole.error();
        not_restarted(r, service, std::vector<NodeSlot*>(rolling.begin() + static_cast<long>(begin), rolling.end()),
                      "the rollout stopped: " + why);
        r.stop(service, why);
        return false;
      }
    }
  }
  return true;
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

} // namespace

std::vector<int> batch_sizes(const Service& service, int rolling, int group_size)
{
  int size = service.serial.given() ? std::max(1, service.serial.of(group_size)) : rolling;
  if (service.is_quorum_group()) {
    size = std::min(size, std::max(1, (group_size - 1) / 2));
  }
  std::vector<int> sizes;
  int left = rolling;
  if (service.canary > 0 && left > 0) {
    sizes.push_back(std::min({service.canary, size, left}));
    left -= sizes.back();
  }
  while (left > 0) {
    sizes.push_back(std::min(size, left));
    left -= sizes.back();
  }
  return sizes;
}

std::vector<std::vector<const Service*>> rollout_waves(const std::vector<const Service*>& services)
{
  std::vector<std::vector<const Service*>> waves;
  std::map<std::string, std::size_t> wave_of;
  for (const Service* service : services) {
    std::size_t wave = 0;
    for (const auto& dependency : service->after) {
      if (auto it = wave_of.find(dependency); it != wave_of.end()) {
        wave = std::max(wave, it->second + 1);
      }
    }
    auto same_group = [&](const Service* other) { return other->group == service->group; };
    while (wave < waves.size() && std::any_of(waves[wave].begin(), waves[wave].end(), same_group)) {
      ++wave; // one service at a time on a node
    }
    if (wave == waves.size()) {
      waves.emplace_back();
    }
    waves[wave].push_back(service);
    wave_of[service->name] = wave;
  }
  return waves;
}

/// A node switches at the turn of the first of its services due to restart. When the rollout
/// stops before another of them has restarted there, that service would run its old program
/// while its unit and `current` point to the new release, and its next crash would start the
/// new build past every gate: such a node goes back (and what this run restarted there with it).
void back_where_restarts_stopped(Rollout& r, const std::string& by)
{
  std::vector<NodeSlot*> behind;
  std::vector<std::string> names_of; // per node behind, the services not restarted there
  for (auto& slot : r.cluster.slots()) {
    NodeChange* change = r.change_of(slot);
    if (!slot.alive() || !change || !change->switched) {
      continue;
    }
    std::string names;
    for (const auto& service : r.cluster.plan().services) {
      std::lock_guard lock(r.mutex);
      if (service.group == slot.node->group && r.restart_due(service, slot) &&
          r.touched[slot.node->name].count(service.name) == 0) {
        names += (names.empty() ? "" : ", ") + service.name;
      }
    }
    if (!names.empty()) {
      behind.push_back(&slot);
      names_of.push_back(names);
    }
  }
  run_parallel(behind.size(), one_at_a_time(r.cluster.plan(), behind) ? 1 : 0, [&](std::size_t i) {
    switch_back(r, *behind[i], names_of[i] + " did not restart here (the rollout stopped at " + by + ")");
  });
}

bool run_rollout(Cluster& cluster, const std::vector<const Service*>& services, ClusterChanges& changes,
                 const HealthOptions& health, const std::function<void(const Service&, NodeSlot&)>& on_healthy)
{
  Rollout r{cluster, changes, health, on_healthy, {}, {}, {}, {}, {}, {}, {}};
  std::map<std::string, int> healthy; // written between waves only
  std::set<std::string> skipped;      // a dependency was healthy on no node
  auto step = [&](const Service& service) {
    if (auto by = r.stopped(); !by.empty()) {
      std::vector<NodeSlot*> slots;
      for (auto& slot : cluster.slots()) {
        if (slot.alive() && slot.node->group == service.group && r.restart_due(service, slot)) {
          slots.push_back(&slot);
        }
      }
      not_restarted(r, service, slots, "the rollout stopped at " + by);
      return;
    }
    if (!dependencies_healthy(cluster, service, healthy)) {
      std::lock_guard lock(r.mutex);
      skipped.insert(service.name);
      return;
    }
    run_service(r, service);
  };
  for (const auto& wave : rollout_waves(services)) {
    if (wave.size() == 1) {
      step(*wave.front());
    } else { // services of other groups that do not depend on each other roll at the same time
      run_parallel(wave.size(), static_cast<int>(wave.size()), [&](std::size_t i) { step(*wave[i]); });
    }
    if (!r.roll_back_why.empty()) { // every service of the wave has ended its batch
      switch_back_all(r, r.roll_back_why);
      r.roll_back_why.clear();
    }
    for (const Service* service : wave) {
      if (skipped.count(service->name) != 0) { // so that what runs after it is skipped too
        healthy[service->name] = 0;
        continue;
      }
      bool selected = std::any_of(cluster.slots().begin(), cluster.slots().end(),
                                  [&](const NodeSlot& slot) { return slot.node->group == service->group; });
      if (!selected) { // a dependency this run does not touch (--node, --group) is not judged
        continue;
      }
      healthy[service->name] =
          static_cast<int>(std::count_if(cluster.slots().begin(), cluster.slots().end(), [&](const NodeSlot& slot) {
            return slot.node->group == service->group && slot.alive();
          }));
    }
  }
  if (auto by = r.stopped(); !by.empty()) {
    back_where_restarts_stopped(r, by);
  }
  return r.stopped().empty();
}

void switch_remaining(Cluster& cluster, ClusterChanges& changes)
{
  cluster.for_each_alive([&](NodeSlot& slot) {
    auto it = changes.find(slot.node->name);
    // A node with a restart still due keeps its release: the next deploy switches it at its turn.
    if (it == changes.end() || it->second.switched || it->second.changes.nothing_to_do() ||
        !it->second.changes.restart.empty()) {
      return;
    }
    auto start = Clock::now();
    if (auto activated = slot.ops->activate(it->second.release, it->second.changes, it->second.reason); !activated) {
      cluster.mark_failed(slot, "-", "activate", activated.error(), seconds_since(start));
      return;
    }
    it->second.switched = true;
  });
}

} // namespace deploy
