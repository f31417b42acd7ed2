#include "member_changes.hpp"

#include "interrupt.hpp"
#include "layout.hpp"
#include "leader.hpp"
#include "node_ops.hpp"
#include "render.hpp"

#include <algorithm>
#include <chrono>
#include <map>
#include <mutex>
#include <thread>

namespace deploy {
namespace {

/// The leader's name as the group says it (it may be leaving), or empty.
std::string leader_name(Cluster& cluster, const Service& service)
{
  auto leader = query_leader_name(cluster, service);
  return leader ? *leader : "";
}

/// The members in the inventory's order (those no inventory node is last, as answered): the
/// order a founding record has, so that a record written again (a new build tree) renders the
/// same configs and restarts no member.
std::vector<Member> in_inventory_order(const Plan& plan, const Service& service, std::vector<Member> members)
{
  auto rank = [&](const Member& member) {
    auto group = plan.inventory.group(service.group);
    const Node* node = node_of(plan, service, member);
    return static_cast<std::size_t>(std::find(group.begin(), group.end(), node) - group.begin());
  };
  std::stable_sort(members.begin(), members.end(), [&](const Member& a, const Member& b) { return rank(a) < rank(b); });
  return members;
}

/// Records whom each joining node joins with, and a member without a record (deployed before
/// its group had member hooks, or by another build tree) as one of the group as it is;
/// renders their releases again.
void prepare_records(Cluster& cluster, const Service& service, const MemberChanges& changes, ClusterChanges& work)
{
  ProgramCache cache;
  const auto group = in_inventory_order(cluster.plan(), service, changes.members);
  for (const auto& member : changes.members) {
    const Node* node = node_of(cluster.plan(), service, member);
    if (node && !read_member_record(cluster.plan(), service, *node)) {
      write_member_record(cluster.plan(), service, *node, {"new", group}).value_or_throw(1);
      if (work.count(node->name) != 0) {
        work[node->name].release = render_node(cluster.plan(), *node, cache).value_or_throw();
      }
    }
  }
  for (std::size_t k = 0; k < changes.joins.size(); ++k) {
    const Node& node = *changes.joins[k];
    write_member_record(cluster.plan(), service, node, {"existing", members_at_join(changes, k)}).value_or_throw(1);
    work[node.name].release = render_node(cluster.plan(), node, cache).value_or_throw();
    work[node.name].joins.insert(service.name);
  }
}

/// A group that runs nowhere (founded by this deploy, or stopped): each node without a
/// record is recorded as founded with the inventory's group, so that its configs stay the
/// same when the group changes later. A node's record is never rewritten here.
void record_founders(Cluster& cluster, const Service& service, ClusterChanges& work)
{
  std::vector<Member> founders;
  for (const Node* node : cluster.plan().inventory.group(service.group)) {
    founders.push_back(Member{node->name, node->address});
  }
  ProgramCache cache;
  for (const Node* node : cluster.plan().inventory.group(service.group)) {
    if (read_member_record(cluster.plan(), service, *node)) {
      continue;
    }
    write_member_record(cluster.plan(), service, *node, {"new", founders}).value_or_throw(1);
    if (work.count(node->name) != 0) {
      work[node->name].release = render_node(cluster.plan(), *node, cache).value_or_throw();
    }
  }
}

/// The nodes of the group that run the service (or try to), and those that do not.
std::pair<std::vector<const Node*>, std::vector<const Node*>> who_runs(Cluster& cluster, const Service& service)
{
  std::map<const Node*, bool> runs; // the nodes asked at once; the answer in inventory order
  std::mutex mutex;
  cluster.for_each_in_group(service.group, [&](NodeSlot& slot) {
    if (!slot.alive()) {
      return;
    }
    auto state = slot.ops->unit_state(service.name);
    bool yes = !state || state->running() || state->active == "activating" || state->active == "failed";
    std::lock_guard lock(mutex);
    runs[slot.node] = yes;
  });
  std::vector<const Node*> running, not_running;
  for (auto& slot : cluster.slots()) {
    if (auto it = runs.find(slot.node); it != runs.end()) {
      (it->second ? running : not_running).push_back(slot.node);
    }
  }
  return {running, not_running};
}

/// No member answered MEMBERS: a group that runs nowhere is founded (or started again) by
/// this deploy; one that runs on every node of the inventory's group (a group deployed before
/// it had MEMBERS: the query ships with this deploy) is taken as it is; anything else is
/// refused, since a node could start as the founder of a second group.
void no_answer(Cluster& cluster, const Service& service, const std::string& why, ClusterChanges& work, bool dry_run)
{
  auto [running, not_running] = who_runs(cluster, service);
  if (running.empty()) {
    if (!dry_run) {
      record_founders(cluster, service, work);
    }
    return;
  }
  if (!not_running.empty()) {
    throw Error("cannot tell who the members of " + service.name + "'s group are (" + why + "), so " +
                    not_running.front()->name + " cannot join it (nothing was changed)",
                1);
  }
  cluster.output().progress(running.front()->name, service.name + ": warning: no member answered MEMBERS (" + why +
                                                       "): taking the inventory's group as the members");
}

/// The node to run a member hook on: alive, of the group, not `except`, and not joining in
/// this run (a node that has joined is no longer marked so in `work`).
NodeSlot* member_slot(Cluster& cluster, const Service& service, const ClusterChanges& work,
                      const std::string& except)
{
  for (auto& slot : cluster.slots()) {
    auto change = work.find(slot.node->name);
    bool joining = change != work.end() && change->second.joins.count(service.name) != 0;
    if (slot.node->group == service.group && slot.alive() && !joining && slot.node->name != except) {
      return &slot;
    }
  }
  return nullptr;
}

Result<void> run_member_hook_once(NodeSlot& slot, const Plan& plan, const Service& service, const std::string& hook,
                                  const std::string& what, const Member& member)
{
  CD_TRY(command, expand_command(with_member(hook, member), plan, *slot.node, service,
                                 "service " + service.name + " " + what));
  auto result = slot.ops->run_as_service_user(*command, Seconds{60});
  if (!result) {
    return fail(result.error());
  }
  if (!result->succeeded()) {
    auto why = result->err.substr(0, result->err.find('\n'));
    return fail(what + " of " + member.name + " on " + slot.node->name + " exited " +
                std::to_string(result->exit_status) + (why.empty() ? "" : ": " + why));
  }
  return {};
}

/// A member hook, tried again for at most 60 s while it fails: a group refuses a change for a
/// while after the last one (etcd: "unhealthy cluster" until its members have been connected
/// for 5 s, and while a member restarts).
Result<void> run_member_hook(Cluster& cluster, NodeSlot& slot, const Service& service, const std::string& hook,
                             const std::string& what, const Member& member)
{
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  for (int attempt = 1;; ++attempt) {
    auto done = run_member_hook_once(slot, cluster.plan(), service, hook, what, member);
    if (done || std::chrono::steady_clock::now() >= deadline || interrupted()) {
      return done;
    }
    if (attempt == 1) {
      cluster.output().progress(slot.node->name, service.name + ": " + done.error() + "; trying again for up to 60 s");
    }
    std::this_thread::sleep_for(std::chrono::seconds(2));
  }
}

/// A member that left the group and the inventory: its services are stopped and removed
/// there (units and releases; its data stays), as `clean` would, so that nothing starts it
/// again. Says so when the node cannot be reached (a dead machine being replaced).
void retire_left(Cluster& cluster, const Member& member)
{
  Node node;
  node.name = member.name;
  node.address = member.address.empty() ? member.name : member.address;
  auto transport = cluster.connect_other(node);
  if (!transport) {
    cluster.output().progress(member.name, "left the group; not retired (cannot reach it: " + transport.error() +
                                               "): what was deployed there stays until you clean it");
    return;
  }
  NodeOps ops(**transport, node.name, NodeLayout{cluster.plan().cluster});
  auto cleaned = ops.clean({}, false);
  cluster.output().progress(member.name, cleaned ? "retired: its services stopped and removed (data kept)"
                                                 : "left the group; not retired: " + cleaned.error());
}

/// Before `member` leaves: when it leads the group, TRANSFER moves leadership to a member that
/// stays (the one it runs on), so the group is not without a leader for an election timeout.
/// A failed TRANSFER is said, not fatal: the leader steps down by itself when it is removed.
void transfer_if_leader(Cluster& cluster, const Service& service, const Member& member)
{
  if (service.transfer.empty()) {
    return;
  }
  auto leader = query_leader_name(cluster, service);
  if (!leader || (*leader != member.name && *leader != member.address)) {
    return;
  }
  ClusterChanges none;
  NodeSlot* slot = member_slot(cluster, service, none, member.name);
  auto moved = slot ? run_member_hook(cluster, *slot, service, service.transfer, "TRANSFER", member)
                    : Result<void>(fail("no member of the group is reachable"));
  cluster.output().progress(slot ? slot->node->name : member.name,
                            moved ? service.name + ": leadership moved here from " + member.name + ", which leaves"
                                  : service.name + ": warning: " + moved.error() + " (" + member.name +
                                        " steps down when it leaves)");
}

} // namespace

std::map<std::string, MemberChanges> plan_member_changes(Cluster& cluster, const std::vector<const Service*>& services,
                                                         ClusterChanges& work, bool dry_run)
{
  std::map<std::string, MemberChanges> membership;
  for (const Service* service : services) {
    if (service->members.empty()) {
      continue;
    }
    auto group = cluster.plan().inventory.group(service->group);
    if (std::any_of(group.begin(), group.end(), [&](const Node* node) { return !cluster.find(node->name); })) {
      cluster.output().note(service->name + ": this run does not hold every node of group " + service->group +
                            " (--node, --group): its members are left as they are");
      continue;
    }
    std::string why;
    auto answer = ask_members(cluster, *service, &why);
    if (!answer) {
      no_answer(cluster, *service, why, work, dry_run);
      continue;
    }
    auto changes = member_changes(cluster.plan(), *service, answer->second, "").value_or_throw();
    if (changes.leaves.size() > 1) { // the leader leaves last: ask who it is only when it matters
      changes = member_changes(cluster.plan(), *service, answer->second, leader_name(cluster, *service))
                    .value_or_throw();
    }
    changes.asked = answer->first;
    if (!changes.leaves.empty() && !check_quorum(cluster, *service)) {
      changes.leaves_first = true;
      cluster.output().progress(changes.asked, service->name + ": the group is not whole: the members that leave "
                                                               "go first, then the new ones join");
    }
    for (const Node* node : changes.joins) {
      cluster.output().progress(node->name, service->name + ": joins the group (of " +
                                                std::to_string(changes.members.size()) + " members before this deploy)");
    }
    for (const auto& member : changes.leaves) {
      cluster.output().progress(changes.asked, service->name + ": " + member.name + " leaves the group");
    }
    if (!dry_run) {
      prepare_records(cluster, *service, changes, work);
    }
    membership[service->name] = changes;
  }
  return membership;
}

Result<void> announce_join(Cluster& cluster, const Service& service, NodeSlot& joining, const ClusterChanges& work)
{
  NodeSlot* member = member_slot(cluster, service, work, joining.node->name);
  if (!member) {
    return fail("no member of " + service.name + "'s group is reachable to announce " + joining.node->name);
  }
  CD_TRY(aside, joining.ops->set_aside_data(service.name));
  if (!aside->empty()) {
    cluster.output().progress(joining.node->name, service.name + ": the data of an earlier membership moved aside to " +
                                                      *aside + " (kept)");
  }
  return run_member_hook(cluster, *member, service, service.join, "JOIN",
                         Member{joining.node->name, joining.node->address});
}

bool run_leaves(Cluster& cluster, const std::map<std::string, MemberChanges>& membership, bool first)
{
  bool ok = true;
  ClusterChanges none;
  for (const auto& [name, changes] : membership) {
    if (changes.leaves_first != first) {
      continue;
    }
    const Service& service = *cluster.plan().find_service(name);
    for (const auto& member : changes.leaves) {
      auto start = std::chrono::steady_clock::now();
      const std::string shown = member.name == "-" ? member.address : member.name; // never started: no name
      transfer_if_leader(cluster, service, member);
      NodeSlot* slot = member_slot(cluster, service, none, member.name);
      auto left = slot ? run_member_hook(cluster, *slot, service, service.leave, "LEAVE", member)
                       : Result<void>(fail("no member of the group is reachable"));
      if (!left) {
        cluster.output().add(SummaryRow{shown, service.name, "leave", false, left.error(), seconds_since(start)});
        ok = false;
        break; // one at a time: the next waits for this one
      }
      // The next change (or the end of the deploy) waits until the group is whole again (a
      // leader that left: until the others have elected one), for at most 60 s.
      bool whole = check_quorum(cluster, service, Seconds{60}).ok();
      cluster.output().add(SummaryRow{shown, service.name, "left the group", whole,
                                      whole ? "" : "the group is not whole 60 s after (QUORUM)", seconds_since(start)});
      if (!whole) {
        ok = false;
        break;
      }
      if (member.name != "-") {
        record_removed(cluster.plan(), service, member).value_or_throw(1);
      }
      (void)slot->ops->note_member(service.name, shown, "left"); // evidence only: a failure changes nothing
      if (node_of(cluster.plan(), service, member) == nullptr && cluster.plan().inventory.find(member.name) == nullptr) {
        retire_left(cluster, member);
      }
    }
  }
  return ok;
}

} // namespace deploy
