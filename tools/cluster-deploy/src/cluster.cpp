#include "cluster.hpp"

#include "agent_client.hpp"
#include "parallel.hpp"
#include "step_log.hpp"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>

namespace deploy {
namespace {

/// Marks a node's part of a tracked step done, however the task ends.
struct Done {
  Output& output;
  std::string node;
  ~Done() { output.node_done(node); }
};

template <typename T>
bool contains(const std::vector<T>& list, const T& value)
{
  return std::find(list.begin(), list.end(), value) != list.end();
}

std::string join(const std::vector<std::string>& words)
{
  std::string text;
  for (const auto& word : words) {
    text += (text.empty() ? "" : ", ") + word;
  }
  return text;
}

ConnectOptions connect_options(const Plan& plan, const Node& node)
{
  ConnectOptions options;
  options.host = node.address;
  options.port = node.port;
  options.user = node.user;
  options.ssh_config = plan.ssh.config;
  options.known_hosts = plan.ssh.known_hosts;
  options.host_key_policy = plan.ssh.host_key_policy;
  return options;
}

} // namespace

Connector ssh_connector()
{
  return [](const Plan& plan, const Node& node) { return connect_ssh(connect_options(plan, node)); };
}

Connector agent_connector(const std::filesystem::path& socket)
{
  return [socket](const Plan& plan, const Node& node) { return connect_via_agent(socket, connect_options(plan, node)); };
}

Result<std::vector<const Node*>> select_nodes(const Plan& plan, const Selection& selection)
{
  for (const auto& group : selection.groups) {
    if (!contains(plan.inventory.groups, group)) {
      return fail("unknown group '" + group + "' (known: " + join(plan.inventory.groups) + ")");
    }
  }
  for (const auto& name : selection.nodes) {
    if (!plan.inventory.find(name)) {
      return fail("unknown node '" + name + "' (not in " + plan.inventory_dir.string() + ")");
    }
  }
  std::vector<std::string> service_groups;
  for (const auto& name : selection.services) {
    if (const Service* service = plan.find_service(name)) {
      service_groups.push_back(service->group);
    }
  }
  std::vector<const Node*> nodes;
  for (const auto& node : plan.inventory.nodes) {
    bool group_ok = selection.groups.empty() || contains(selection.groups, node.group);
    bool node_ok = selection.nodes.empty() || contains(selection.nodes, node.name);
    group_ok = group_ok && (service_groups.empty() || contains(service_groups, node.group));
    if (group_ok && node_ok && (selection.idle_nodes || !plan.services_on(node).empty())) {
      nodes.push_back(&node);
    }
  }
  if (nodes.empty()) {
    return fail("the selection matches no node that runs a service");
  }
  return nodes;
}

Result<std::vector<const Service*>> select_services(const Plan& plan, const Selection& selection)
{
  std::vector<std::string> known;
  for (const auto& service : plan.services) {
    known.push_back(service.name);
  }
  for (const auto& name : selection.services) {
    if (!contains(known, name)) {
      return fail("unknown service '" + name + "' (known: " + join(known) + ")");
    }
  }
  std::vector<const Service*> services;
  for (const auto& service : plan.services) {
    if (selection.services.empty() || contains(selection.services, service.name)) {
      services.push_back(&service);
    }
  }
  return services;
}

Cluster::Cluster(const Plan& plan, std::vector<const Node*> nodes, Output& output, int parallel)
    : m_plan(plan), m_output(output), m_parallel(parallel)
{
  for (const Node* node : nodes) {
    m_slots.push_back(NodeSlot{node, nullptr, std::nullopt, ""});
  }
}

void Cluster::connect(const Connector& connector)
{
  m_connector = connector;
  m_output.phase("connect");
  m_output.track(m_slots.size());
  run_parallel(m_slots.size(), m_parallel, [&](size_t i) {
    NodeSlot& slot = m_slots[i];
    m_output.node_busy(slot.node->name);
    Done done{m_output, slot.node->name};
    auto start = std::chrono::steady_clock::now();
    auto transport = [&] {
      StepLog step(slot.node->name, "connect");
      auto connected = connector(m_plan, *slot.node);
      if (!connected) {
        step.result(connected.error());
      }
      return connected;
    }();
    if (!transport) {
      mark_failed(slot, "-", "connect", transport.error(), seconds_since(start));
      return;
    }
    slot.transport = std::make_unique<SharedTransport>(std::move(*transport)); // the lock's renewer shares it
    slot.ops.emplace(*slot.transport, slot.node->name, NodeLayout{m_plan.cluster});
  });
}

Result<std::unique_ptr<Transport>> Cluster::connect_other(const Node& node) const
{
  if (!m_connector) {
    return fail("not connected");
  }
  return m_connector(m_plan, node);
}

void Cluster::for_each_alive(const std::function<void(NodeSlot&)>& task, int parallel)
{
  std::vector<NodeSlot*> alive;
  for (auto& slot : m_slots) {
    if (slot.alive()) {
      alive.push_back(&slot);
    }
  }
  run_tracked(alive, parallel > 0 ? parallel : m_parallel, task);
}

void Cluster::run_tracked(const std::vector<NodeSlot*>& slots, int parallel, const std::function<void(NodeSlot&)>& task)
{
  m_output.track(slots.size());
  run_parallel(slots.size(), parallel, [&](size_t i) {
    m_output.node_busy(slots[i]->node->name);
    Done done{m_output, slots[i]->node->name};
    task(*slots[i]);
  });
}

void Cluster::for_each_of(const std::vector<NodeSlot*>& slots, const std::function<void(NodeSlot&)>& task)
{
  std::vector<NodeSlot*> alive;
  std::copy_if(slots.begin(), slots.end(), std::back_inserter(alive),
               [](const NodeSlot* slot) { return slot->alive(); });
  run_tracked(alive, m_parallel, task);
}

void Cluster::for_each_then(const std::vector<NodeSlot*>& slots, const std::function<void(NodeSlot&)>& first,
                            const std::function<void(NodeSlot&)>& then)
{
  std::vector<NodeSlot*> alive;
  std::copy_if(slots.begin(), slots.end(), std::back_inserter(alive),
               [](const NodeSlot* slot) { return slot->alive(); });
  m_output.track(alive.size());
  std::mutex mutex;
  std::condition_variable arrived;
  std::deque<NodeSlot*> ready; // whose `first` has ended, in the order they ended
  std::exception_ptr then_error;
  std::jthread thens([&] {
    try {
      run_parallel(alive.size(), m_parallel, [&](size_t) {
        NodeSlot* slot = nullptr;
        {
          std::unique_lock lock(mutex);
          arrived.wait(lock, [&] { return !ready.empty(); }); // every `first` below hands one on
          slot = ready.front();
          ready.pop_front();
        }
        Done done{m_output, slot->node->name};
        then(*slot);
      });
    } catch (...) {
      then_error = std::current_exception();
    }
  });
  run_parallel(alive.size(), m_parallel, [&](size_t i) {
    struct HandOn { // also when `first` throws: the `then` waiting for it must not wait forever
      std::mutex& mutex;
      std::condition_variable& arrived;
      std::deque<NodeSlot*>& ready;
      NodeSlot* slot;
      ~HandOn()
      {
        std::lock_guard lock(mutex);
        ready.push_back(slot);
        arrived.notify_one();
      }
    } hand_on{mutex, arrived, ready, alive[i]};
    m_output.node_busy(alive[i]->node->name);
    first(*alive[i]);
  });
  thens.join();
  if (then_error) {
    std::rethrow_exception(then_error);
  }
}

void Cluster::for_each_in_group(const std::string& group, const std::function<void(NodeSlot&)>& task)
{
  std::vector<NodeSlot*> members;
  for (auto& slot : m_slots) {
    if (slot.node->group == group) {
      members.push_back(&slot);
    }
  }
  for_each_of(members, task);
}

NodeSlot* Cluster::find(const std::string& node)
{
  for (auto& slot : m_slots) {
    if (slot.node->name == node) {
      return &slot;
    }
  }
  return nullptr;
}

void Cluster::mark_failed(NodeSlot& slot, const std::string& service, const std::string& step, const std::string& why,
                          double seconds)
{
  slot.failure = why;
  m_output.progress(slot.node->name, "error: " + why);
  m_output.add(SummaryRow{slot.node->name, service, step, false, why, seconds});
}

} // namespace deploy
