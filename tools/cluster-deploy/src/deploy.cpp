#include "deploy.hpp"

#include "console.hpp"
#include "crash_point.hpp"
#include "interrupt.hpp"
#include "json_report.hpp"
#include "leader.hpp"
#include "member_changes.hpp"
#include "progress.hpp"
#include "read_first.hpp"
#include "rollout.hpp"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <mutex>
#include <set>

namespace deploy {
namespace {

using Clock = std::chrono::steady_clock;

std::string describe(const ChangeSet& changes, const NodeRelease& release)
{
  if (changes.nothing_to_do()) {
    return "unchanged (release " + release.id + ")";
  }
  std::string text = "release " + release.id + ": ";
  if (changes.release_on_node) {
    text += "already on the node";
  } else if (changes.release_changed) {
    text += "send " + std::to_string(changes.send.size()) + " files (" + format_bytes(changes.bytes_to_send) +
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

/// Adds to `uploads` the files of `release` that the node holds damaged (`resend`, from prepare.sh).
void add_resent(const NodeRelease& release, const std::vector<std::string>& resend, const std::string& node,
                Output& output, std::vector<const ReleaseFile*>& uploads)
{
  for (const auto& file : release.files) {
    if (std::find(resend.begin(), resend.end(), file.path) != resend.end()) {
      output.progress(node, file.path + " on the node is not what was deployed: sending it again");
      uploads.push_back(&file);
    }
  }
}

/// Creates the staging folder with what the node already has; returns the files to send.
Result<std::vector<const ReleaseFile*>> prepare(NodeOps& ops, const NodeChange& work, Output& output)
{
  const auto& changes = work.changes;
  CD_TRY(resend, ops.prepare_staging(work.release, changes));
  std::vector<const ReleaseFile*> uploads = changes.send;
  add_resent(work.release, *resend, ops.node(), output, uploads);
  return uploads;
}

/// Sends `uploads` from the controller and seals the release, in one round trip (each file
/// streamed from its local copy, NodeOps::send_and_seal); a file whose part left on the node by
/// an interrupted upload was not its start goes again whole, then the seal.
Result<void> send_and_seal(NodeOps& ops, const NodeChange& work, const std::vector<const ReleaseFile*>& uploads,
                           Output& output)
{
  CD_TRY(again, ops.send_and_seal(work.release, uploads));
  for (const ReleaseFile* file : *again) {
    CD_TRY_VOID(ops.upload(work.release, *file));
  }
  for (const ReleaseFile* file : uploads) {
    output.sent(local_size(*file));
  }
  crash_point("uploaded");
  output.progress(ops.node(), "staged release " + work.release.id);
  if (!again->empty()) {
    CD_TRY_VOID(ops.seal(work.release));
  }
  crash_point("sealed");
  return {};
}

bool must_stage(const ChangeSet& changes)
{
  return changes.release_changed && !changes.release_on_node;
}

/// A change that stages in one round trip (NodeOps::stage_in_one_trip): configs and units
/// only, a few small ones, where each round trip costs more than the bytes. Programs and
/// libraries go the usual way, which fan-out may pass on between nodes.
bool stages_in_one_trip(const ChangeSet& changes)
{
  constexpr std::uint64_t k_max_bytes = 256 * 1024;
  constexpr std::size_t k_max_files = 16;
  std::uint64_t bytes = 0;
  for (const ReleaseFile* file : changes.send) {
    if (is_program(*file)) {
      return false;
    }
    bytes += local_size(*file);
  }
  return bytes <= k_max_bytes && changes.send.size() <= k_max_files;
}

/// Whether a node is asked, before anything changes, if it can take the release. A release
/// the node has already (staged by an earlier run) is asked about again only when it brings
/// new units: a program may run another way under them (BUNDLE_LIBS ALL dropped). A node that
/// runs a release and gets a few small files that are no program, under the units it has (a
/// config change), has nothing to be asked: its programs were asked about when they came, the
/// folder is checked as ours again by prepare.sh, and the room for the files is not in
/// question. At 103 nodes that round trip was 3 s of a config change (docs/benchmarks.md).
bool needs_preflight(const ChangeSet& changes, const RemoteState& before)
{
  if (!changes.release_changed) {
    return false;
  }
  if (!changes.units_to_install.empty()) {
    return true;
  }
  return !changes.release_on_node && (before.current_id.empty() || !stages_in_one_trip(changes));
}

/// A node whose group runs no service of the plan any more: what an earlier plan put there
/// is stopped and removed (units and releases; the data stays), so nothing runs forgotten.
void retire_node(Cluster& cluster, NodeSlot& slot, const RemoteState& state, bool dry_run, Clock::time_point start)
{
  if (state.current_id.empty() && state.units.empty()) {
    cluster.output().progress(slot.node->name, "no service of the plan runs here: nothing to do");
    return;
  }
  std::string what = std::to_string(state.units.size()) + " units and the releases (data kept)";
  if (dry_run) {
    cluster.output().progress(slot.node->name, "would retire: no service of the plan runs here; would remove " + what);
    return;
  }
  if (auto cleaned = slot.ops->clean({}, false); !cleaned) {
    cluster.mark_failed(slot, "-", "retire", cleaned.error(), seconds_since(start));
    return;
  }
  cluster.output().progress(slot.node->name, "retired: no service of the plan runs here; removed " + what);
  cluster.output().add(SummaryRow{slot.node->name, "-", "retired", true, "", seconds_since(start)});
}

/// What the node has and what would change; a node that is to get files must pass
/// preflight. Changes nothing: a failure here leaves every node as it was.
void compare_node(Cluster& cluster, NodeSlot& slot, NodeChange& work, bool dry_run)
{
  auto refuse = [&](const std::string& why) {
    slot.failure = why;
    if (dry_run) { // a deploy lists them all before it stops
      cluster.output().progress(slot.node->name, "error: " + why);
    }
  };
  auto reading = slot.ops->read_node(services_of(work.release));
  if (!reading) {
    refuse(reading.error());
    return;
  }
  work.before = reading->deployed;
  work.units_before = std::move(reading->units);
  if (work.release.files.empty()) { // no service of the plan runs here (any more): retired later
    return;
  }
  work.changes = compute_changes(work.release, work.before);
  if (needs_preflight(work.changes, work.before)) {
    if (auto ready = slot.ops->preflight(work.release, work.changes); !ready) {
      refuse(ready.error());
    }
  }
}

/// Before any node is changed: every selected node answered and passed preflight, or the
/// deploy stops here (exit 2) with one line per node that did not (--json: the summary).
void refuse_unless_every_node_ready(Cluster& cluster)
{
  int failed = 0;
  for (const auto& slot : cluster.slots()) {
    if (slot.failure.empty()) {
      continue;
    }
    ++failed;
    if (slot.ops) { // connected, so failed preflight (a failed connect has its row already)
      cluster.output().add(SummaryRow{slot.node->name, "-", "preflight", false, slot.failure, 0});
    }
    if (cluster.output().format() == Format::text) {
      std::string prefix = slot.node->name + ": ";
      cluster.output().progress(slot.node->name,
                                slot.failure.starts_with(prefix) ? slot.failure.substr(prefix.size()) : slot.failure);
    }
  }
  if (failed == 0) {
    return;
  }
  if (cluster.output().format() == Format::json) {
    cluster.output().print_summary("deploy", cluster.plan().cluster, false);
  }
  throw Error(std::to_string(failed) + " of " + std::to_string(cluster.slots().size()) +
              " nodes cannot take this deploy (above); nothing was changed on any node. Fix them, or leave them "
              "out with --node or --group");
}

/// prepare_node() for a small change: staged and sealed in one round trip; files the node
/// held damaged go to `uploads`, and the node is sealed with the others.
void stage_small(Cluster& cluster, NodeSlot& slot, NodeChange& work, std::vector<const ReleaseFile*>& uploads,
                 Clock::time_point start)
{
  auto resend = slot.ops->stage_in_one_trip(work.release, work.changes);
  if (!resend) {
    cluster.mark_failed(slot, "-", "stage", resend.error(), seconds_since(start));
    return;
  }
  for (const ReleaseFile* file : work.changes.send) {
    cluster.output().sent(local_size(*file));
  }
  crash_point("uploaded");
  add_resent(work.release, *resend, slot.node->name, cluster.output(), uploads);
  if (uploads.empty()) {
    cluster.output().progress(slot.node->name, "staged release " + work.release.id);
    work.sealed = true;
    crash_point("sealed");
  }
}

/// Says what changes on the node and creates its staging folder; the files it must get
/// go to `uploads`.
void prepare_node(Cluster& cluster, NodeSlot& slot, NodeChange& work, bool dry_run,
                  std::vector<const ReleaseFile*>& uploads)
{
  auto start = Clock::now();
  if (work.release.files.empty()) { // no service of the plan runs here (any more)
    retire_node(cluster, slot, work.before, dry_run, start);
    return;
  }
  cluster.output().progress(slot.node->name, (dry_run ? "would deploy: " : "") + describe(work.changes, work.release));
  if (dry_run || !must_stage(work.changes)) {
    return;
  }
  if (stages_in_one_trip(work.changes)) {
    stage_small(cluster, slot, work, uploads, start);
    return;
  }
  auto prepared = prepare(*slot.ops, work, cluster.output());
  if (!prepared) {
    cluster.mark_failed(slot, "-", "stage", prepared.error(), seconds_since(start));
    return;
  }
  uploads = std::move(*prepared);
}

/// What the dry run found for one node, for --json.
NodeChanges changes_view(const NodeSlot& slot, const NodeChange& work)
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
    view.send.push_back({file->path, local_size(*file)});
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

/// Sends what fan-out left in `uploads` and seals every node's release that must be staged (of
/// the nodes `which` picks).
void stage_every_node(Cluster& cluster, const ClusterChanges& work,
                      const std::map<std::string, std::vector<const ReleaseFile*>>& uploads,
                      const std::function<bool(const NodeSlot&)>& which)
{
  cluster.for_each_alive([&](NodeSlot& slot) {
    const NodeChange& mine = work.at(slot.node->name);
    if (!which(slot) || mine.release.files.empty() || !must_stage(mine.changes) || mine.sealed) {
      return;
    }
    auto start = Clock::now();
    if (interrupted()) {
      cluster.mark_failed(slot, "-", "stage", "not staged: stopped by " + interrupt_name(), 0);
      return;
    }
    if (auto staged = send_and_seal(*slot.ops, mine, uploads.at(slot.node->name), cluster.output()); !staged) {
      cluster.mark_failed(slot, "-", "stage", staged.error(), seconds_since(start));
    }
  });
}

/// Fan-out, and every node staged: the nodes the fan-out does not involve while it runs, the
/// others after it, with what it left them.
void fan_out_and_stage(Cluster& cluster, const ClusterChanges& work,
                       std::map<std::string, std::vector<const ReleaseFile*>>& uploads, FanOutMode mode)
{
  std::set<const NodeSlot*> meanwhile;
  fan_out(cluster, work, uploads, mode, [&](const std::vector<NodeSlot*>& involved) {
    for (const auto& slot : cluster.slots()) {
      if (std::find(involved.begin(), involved.end(), &slot) == involved.end()) {
        meanwhile.insert(&slot);
      }
    }
    stage_every_node(cluster, work, uploads, [&](const NodeSlot& slot) { return meanwhile.count(&slot) != 0; });
  });
  stage_every_node(cluster, work, uploads, [&](const NodeSlot& slot) { return meanwhile.count(&slot) == 0; });
}

/// A dry run's end: with --json, every node's changes as JSON. True when every node could be read.
bool finish_dry_run(Cluster& cluster, const ClusterChanges& work)
{
  bool ok =
      std::all_of(cluster.slots().begin(), cluster.slots().end(), [](const NodeSlot& s) { return s.failure.empty(); });
  if (cluster.output().format() == Format::json) {
    std::vector<NodeChanges> nodes;
    for (const auto& slot : cluster.slots()) {
      nodes.push_back(changes_view(slot, work.at(slot.node->name)));
    }
    print_out(dry_run_json(cluster.plan().cluster, ok, nodes));
    std::fflush(stdout);
  }
  return ok;
}

/// Without --to, a rollback undoes the newest command run: nodes whose current release an
/// older run made (the last deploy did not change them) are left as they are.
void keep_newest_run(Cluster& cluster, ClusterChanges& work, std::map<std::string, std::string>& runs)
{
  std::string newest;
  for (const auto& [node, change] : work) {
    newest = std::max(newest, runs[node]);
  }
  for (auto it = work.begin(); it != work.end();) {
    if (runs[it->first] != newest) {
      cluster.output().progress(it->first, "left alone: the last deploy did not change it (release " +
                                               it->second.before.current_id + ")");
      it = work.erase(it);
    } else {
      ++it;
    }
  }
}

/// record_deployed() of every node's release of `work`.
void note_deployed(const Plan& plan, const ClusterChanges& work)
{
  std::map<std::string, std::string> deployed;
  for (const auto& [node, change] : work) {
    deployed[node] = change.release.id;
  }
  record_deployed(plan, deployed);
}

} // namespace

void read_with_lock(Cluster& cluster, const std::map<std::string, NodeRelease>& releases)
{
  // A node this build tree has no note of is most likely new to the cluster (a first deploy):
  // its preflight rides with the lock too. A noted one gets a change at most: asking about the
  // whole release there would cost more than the round trip it saves.
  const auto noted = noted_nodes(cluster.plan());
  for (auto& slot : cluster.slots()) {
    auto release = releases.find(slot.node->name);
    if (slot.ops && release != releases.end()) {
      auto services = services_of(release->second);
      auto asks = exec_probes(cluster.plan(), *slot.node, services);
      asks.merge(members_asks(cluster.plan(), *slot.node));
      slot.ops->read_with_lock(services, std::move(asks));
      if (!noted.contains(slot.node->name) && !release->second.files.empty()) {
        slot.ops->preflight_with_lock(release->second);
      }
    }
  }
}

bool run_deploy(Cluster& cluster, const std::vector<const Service*>& services,
                std::map<std::string, NodeRelease> releases, const DeployOptions& options)
{
  ClusterChanges work;
  for (auto& [name, release] : releases) {
    work[name].release = std::move(release);
  }
  auto membership = plan_member_changes(cluster, services, work, options.dry_run);
  if (!options.dry_run && !run_leaves(cluster, membership, true)) {
    return finish(cluster, "deploy"); // a dead member could not be removed: no new one joins
  }
  cluster.output().phase("compare");
  cluster.for_each_alive([&](NodeSlot& slot) { compare_node(cluster, slot, work.at(slot.node->name), options.dry_run); });
  if (!options.dry_run) {
    refuse_unless_every_node_ready(cluster);
    crash_point("compared");
    cluster.output().phase("stage");
  }
  std::map<std::string, std::vector<const ReleaseFile*>> uploads;
  for (const auto& slot : cluster.slots()) {
    uploads[slot.node->name]; // every entry exists before the threads below write theirs
  }
  cluster.for_each_alive([&](NodeSlot& slot) {
    prepare_node(cluster, slot, work.at(slot.node->name), options.dry_run, uploads.at(slot.node->name));
  });
  if (!options.dry_run) {
    crash_point("prepared");
    fan_out_and_stage(cluster, work, uploads, options.fan_out);
  }
  if (options.dry_run) {
    return finish_dry_run(cluster, work);
  }
  crash_point("staged");
  // Every node is staged; each switches to its release at its turn in the rollout.
  auto record = [&](const Service& service, NodeSlot& slot) {
    const NodeChange& mine = work.at(slot.node->name);
    if (mine.changes.restart.count(service.name) == 0) {
      return;
    }
    if (auto recorded = slot.ops->record_started(service.name, mine.release.service_digests.at(service.name));
        !recorded) {
      cluster.output().progress(slot.node->name, "warning: " + recorded.error());
    }
    crash_point("recorded");
  };
  if (run_rollout(cluster, services, work, options.health, record)) {
    switch_remaining(cluster, work);
    run_leaves(cluster, membership, false); // after the joins: a replaced member goes once its successor is in
  }
  crash_point("rolled-out");
  bool changed = std::any_of(work.begin(), work.end(), [](const auto& w) {
    return !w.second.changes.nothing_to_do() || !w.second.changes.restart.empty();
  });
  bool ok = finish(cluster, "deploy", changed);
  if (ok) { // the next deploy reads first, without the lock, when it would deploy the same
    note_deployed(cluster.plan(), work);
  }
  return ok;
}

bool run_rollback(Cluster& cluster, const std::vector<const Service*>& services, const std::string& to,
                  const HealthOptions& health)
{
  ClusterChanges work;
  std::mutex mutex;
  std::vector<std::string> refusals;
  std::map<std::string, std::string> runs; // node -> the run that made its current release
  forget_deployed(cluster);
  cluster.for_each_alive([&](NodeSlot& slot) {
    auto start = Clock::now();
    auto state = slot.ops->read_node({});
    auto target = state ? slot.ops->rollback_target(to) : Result<RollbackTarget>{fail(state.error())};
    if (!target) {
      cluster.mark_failed(slot, "-", "read state", target.error(), seconds_since(start));
      return;
    }
    std::lock_guard lock(mutex);
    if (target->id.empty()) {
      refusals.push_back(slot.node->name + ": " + target->why_none);
      return;
    }
    runs[slot.node->name] = target->run;
    NodeChange& change = work[slot.node->name];
    change.release = release_from_manifest(cluster.plan(), *slot.node, target->files);
    change.release.id = target->id;
    change.before = state->deployed;
    change.changes = compute_changes(change.release, change.before);
    change.reason = to.empty() ? "rollback" : "deploy"; // --to picks a release as a deploy would
  });
  if (to.empty()) {
    keep_newest_run(cluster, work, runs);
  }
  if (work.empty() || (!refusals.empty() && !to.empty())) {
    std::sort(refusals.begin(), refusals.end());
    for (const auto& refusal : refusals) {
      cluster.output().note("error: " + refusal);
    }
    cluster.output().note("error: nothing was rolled back");
    return false;
  }
  for (const auto& refusal : refusals) { // e.g. a node the last deploy brought its first release
    cluster.output().progress(refusal.substr(0, refusal.find(':')),
                              "left alone:" + refusal.substr(refusal.find(':') + 1));
  }
  for (auto& [node, change] : work) {
    cluster.output().progress(node, "back to release " + change.release.id + " (from " + change.before.current_id +
                                        ")" + (change.changes.restart.empty() ? "" : ", restarting its services"));
  }
  auto record = [&](const Service& service, NodeSlot& slot) {
    const NodeChange& mine = work.at(slot.node->name);
    auto digest = mine.release.service_digests.find(service.name);
    if (mine.changes.restart.count(service.name) != 0 && digest != mine.release.service_digests.end()) {
      (void)slot.ops->record_started(service.name, digest->second);
    }
  };
  if (run_rollout(cluster, services, work, health, record)) {
    switch_remaining(cluster, work);
  }
  return finish(cluster, "rollback");
}

bool run_up(Cluster& cluster, const std::vector<const Service*>& services, const HealthOptions& health)
{
  ClusterChanges nothing;
  run_rollout(cluster, services, nothing, health, [](const Service&, NodeSlot&) {});
  return finish(cluster, "up");
}

bool run_down(Cluster& cluster, const std::vector<const Service*>& services)
{
  // deployed.txt keeps its nodes: a deploy after `down` finds the units stopped as it reads
  // ahead and takes the lock; after `down` and `up` it finds nothing to change.
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
  forget_deployed(cluster);
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
