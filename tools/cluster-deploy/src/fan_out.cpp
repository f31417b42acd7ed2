#include "fan_out.hpp"

#include "crash_point.hpp"
#include "interrupt.hpp"
#include "parallel.hpp"
#include "progress.hpp"
#include "ssh_keygen.hpp"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <thread>

namespace deploy {
namespace {

bool passes_on(const ReleaseFile& file)
{
  return file.path.starts_with("bin/") || file.path.starts_with("lib/");
}

/// The state of one file in supervise_fan_out.
struct Spread {
  std::vector<std::size_t> pending; ///< positions in FanOutFile::nodes still to get it
  std::vector<std::size_t> holders; ///< positions that have it
  int in_flight = 0;
};

/// The address and port another node reaches `node` at, as ssh's command line and
/// known_hosts spell them.
std::pair<std::string, int> peer_address(const Node& node)
{
  std::string address = node.address;
  if (address.size() > 2 && address.front() == '[' && address.back() == ']') {
    address = address.substr(1, address.size() - 2);
  }
  return {address, node.port == 0 ? 22 : node.port};
}

std::string known_hosts_name(const Node& node)
{
  auto [address, port] = peer_address(node);
  return port == 22 ? address : "[" + address + "]:" + std::to_string(port);
}

} // namespace

std::optional<FanOutMode> parse_fan_out_mode(std::string_view text)
{
  if (text == "off") {
    return FanOutMode::off;
  }
  if (text == "auto") {
    return FanOutMode::automatic;
  }
  if (text == "on") {
    return FanOutMode::on;
  }
  return std::nullopt;
}

std::vector<FanOutFile> choose_fan_out(const std::vector<std::vector<const ReleaseFile*>>& uploads, FanOutMode mode)
{
  if (mode == FanOutMode::off) {
    return {};
  }
  std::map<std::string, FanOutFile> by_content;
  for (std::size_t node = 0; node < uploads.size(); ++node) {
    for (const ReleaseFile* file : uploads[node]) {
      if (!passes_on(*file)) {
        continue;
      }
      FanOutFile& entry = by_content[file->sha256];
      if (entry.nodes.empty()) {
        entry.sha256 = file->sha256;
        entry.bytes = local_size(*file);
      }
      if (entry.nodes.empty() || entry.nodes.back().first != node) { // once per node
        entry.nodes.emplace_back(node, file);
      }
    }
  }
  std::vector<FanOutFile> chosen;
  for (auto& [sha, entry] : by_content) {
    bool pays = mode == FanOutMode::on ? entry.nodes.size() >= 2
                                       : entry.nodes.size() >= k_fan_out_min_nodes && entry.bytes >= k_fan_out_min_bytes;
    if (pays) {
      chosen.push_back(std::move(entry));
    }
  }
  return chosen;
}

std::map<std::size_t, std::string> supervise_fan_out(const std::vector<FanOutFile>& files,
                                                     std::vector<bool> can_pass_on, const FanOutMoves& moves,
                                                     FanOutCounts& counts)
{
  std::mutex mutex;
  std::condition_variable done;
  std::vector<Spread> spread(files.size());
  std::map<std::size_t, std::string> failed; ///< node -> why
  std::vector<bool> busy(can_pass_on.size(), false);
  std::vector<bool> direct_only(can_pass_on.size(), false); ///< a transfer to it between nodes failed
  int in_flight = 0;
  std::vector<std::jthread> transfers;

  for (std::size_t f = 0; f < files.size(); ++f) {
    for (std::size_t i = 0; i < files[f].nodes.size(); ++i) {
      spread[f].pending.push_back(i);
    }
  }
  // Called with `mutex` held; `work` runs on its own thread without it.
  auto start = [&](std::size_t f, std::function<void(std::unique_lock<std::mutex>&, Result<void>)> finish,
                   std::function<Result<void>()> work) {
    ++in_flight;
    ++spread[f].in_flight;
    transfers.emplace_back([&, f, finish = std::move(finish), work = std::move(work)] {
      Result<void> result = fail("not run");
      try {
        result = work();
      } catch (const std::exception& e) {
        result = fail(e.what());
      }
      std::unique_lock lock(mutex);
      --in_flight;
      --spread[f].in_flight;
      finish(lock, std::move(result));
      done.notify_all();
    });
  };
  // From here to position `p` of file `f` (a first copy, or a fallback).
  auto send = [&](std::size_t f, std::size_t p) {
    std::size_t node = files[f].nodes[p].first;
    busy[node] = true;
    start(
        f,
        [&, f, p, node](std::unique_lock<std::mutex>&, Result<void> result) {
          busy[node] = false;
          if (result) {
            if (files[f].pass_on) {
              ++counts.sent;
              counts.bytes_sent += files[f].bytes;
            }
            spread[f].holders.push_back(p);
          } else {
            failed.emplace(node, result.error());
          }
        },
        [&, f, p, node] { return moves.send(node, *files[f].nodes[p].second); });
  };
  auto pass_on = [&](std::size_t f, std::size_t from_p, std::size_t to_p) {
    std::size_t from = files[f].nodes[from_p].first;
    std::size_t to = files[f].nodes[to_p].first;
    busy[from] = busy[to] = true;
    start(
        f,
        [&, f, from_p, to_p, from, to](std::unique_lock<std::mutex>&, Result<void> result) {
          busy[from] = busy[to] = false;
          if (result) {
            crash_point("passed-on");
            ++counts.passed_on;
            spread[f].holders.push_back(from_p);
            spread[f].holders.push_back(to_p);
            return;
          }
          // The sender passes nothing on any more; `to` gets files from the controller from now on
          // (and may still pass them on: it may be the sender's fault).
          ++counts.fallbacks;
          can_pass_on[from] = false;
          direct_only[to] = true;
          spread[f].holders.push_back(from_p);
          spread[f].pending.push_back(to_p);
          moves.fell_back(from, to, *files[f].nodes[to_p].second, result.error());
        },
        [&, f, from_p, to_p, from, to] {
          return moves.pass_on(from, *files[f].nodes[from_p].second, to, *files[f].nodes[to_p].second);
        });
    // A holder is out of `holders` while it passes on; it returns when done.
    auto& holders = spread[f].holders;
    holders.erase(std::find(holders.begin(), holders.end(), from_p));
  };
  // From here to each free node still waiting for file `f` that `pick` takes, in order.
  auto send_from_here = [&](std::size_t f, const std::function<bool(std::size_t node)>& pick) {
    auto& pending = spread[f].pending;
    for (auto it = pending.begin(); it != pending.end();) {
      std::size_t node = files[f].nodes[*it].first;
      if (busy[node] || !pick(node)) {
        ++it;
        continue;
      }
      std::size_t p = *it;
      it = pending.erase(it);
      send(f, p);
    }
  };
  auto assign = [&] {
    // While a first copy is on its way, the uplink is its alone: what no node passes on waits.
    auto seeding = [&] {
      for (std::size_t f = 0; f < files.size(); ++f) {
        if (files[f].pass_on && spread[f].holders.empty() && spread[f].in_flight > 0) {
          return true;
        }
      }
      return false;
    };
    for (std::size_t f = 0; f < files.size(); ++f) {
      Spread& s = spread[f];
      std::erase_if(s.pending, [&](std::size_t p) { return failed.count(files[f].nodes[p].first) > 0; });
      if (!files[f].pass_on) { // from the controller, to each node when it is free
        send_from_here(f, [&](std::size_t) { return !seeding(); });
        continue;
      }
      auto idle_pending = [&](bool relayable) {
        return std::find_if(s.pending.begin(), s.pending.end(), [&](std::size_t p) {
          std::size_t node = files[f].nodes[p].first;
          return !busy[node] && (!relayable || !direct_only[node]);
        });
      };
      bool any_can_pass_on = std::any_of(s.holders.begin(), s.holders.end(),
                                         [&](std::size_t p) { return can_pass_on[files[f].nodes[p].first]; });
      // Nodes that pass it on.
      for (std::size_t h = 0; h < s.holders.size();) {
        std::size_t holder = s.holders[h];
        std::size_t node = files[f].nodes[holder].first;
        auto target = idle_pending(true);
        if (busy[node] || !can_pass_on[node] || target == s.pending.end()) {
          ++h;
          continue;
        }
        std::size_t to = *target;
        s.pending.erase(target);
        pass_on(f, holder, to); // removes `holder` from s.holders
      }
      // From here: each node no other may send to, and, when no holder can pass it on and
      // nothing is under way (the first copy, or after failures), one node that can.
      bool seed = !any_can_pass_on && s.in_flight == 0;
      send_from_here(f, [&](std::size_t node) {
        seed = seed && !(direct_only[node] && can_pass_on[node]);
        return direct_only[node];
      });
      send_from_here(f, [&](std::size_t node) {
        bool wanted = seed && can_pass_on[node];
        seed = seed && !wanted;
        return wanted;
      });
      // No node left that could pass it on: every one gets it from the controller.
      bool none_can = std::none_of(s.pending.begin(), s.pending.end(),
                                   [&](std::size_t p) { return can_pass_on[files[f].nodes[p].first]; });
      if (seed && none_can) {
        send_from_here(f, [](std::size_t) { return true; });
      }
    }
  };
  auto unfinished = [&] {
    return std::any_of(spread.begin(), spread.end(), [](const Spread& s) { return !s.pending.empty(); });
  };

  {
    std::unique_lock lock(mutex);
    while (true) {
      if (interrupted()) { // start nothing more; what is under way ends by itself
        for (std::size_t f = 0; f < files.size(); ++f) {
          for (std::size_t p : spread[f].pending) {
            failed.emplace(files[f].nodes[p].first, "fan-out: stopped by " + interrupt_name());
          }
          spread[f].pending.clear();
        }
      } else {
        assign();
      }
      if (in_flight == 0) {
        if (!unfinished()) {
          break;
        }
        // Nothing moves and something is left: cannot happen (a node with nothing in
        // flight is never busy, so assign() sends from the controller); stop rather than spin.
        for (std::size_t f = 0; f < files.size(); ++f) {
          for (std::size_t p : spread[f].pending) {
            failed.emplace(files[f].nodes[p].first, "fan-out: " + files[f].nodes[p].second->path + " was never sent");
          }
          spread[f].pending.clear();
        }
        break;
      }
      // Every transfer ends (each move is bounded by its own timeout); look at the signal flag
      // now and then meanwhile.
      done.wait_for(lock, std::chrono::milliseconds(200));
    }
  }
  transfers.clear(); // joins; all have finished
  return failed;
}

void fan_out(Cluster& cluster, const ClusterChanges& work,
             std::map<std::string, std::vector<const ReleaseFile*>>& uploads, FanOutMode mode)
{
  std::vector<NodeSlot*> slots;
  std::vector<std::vector<const ReleaseFile*>> wanted;
  for (auto& slot : cluster.slots()) {
    auto it = uploads.find(slot.node->name);
    if (slot.alive() && it != uploads.end() && !it->second.empty()) {
      slots.push_back(&slot);
      wanted.push_back(it->second);
    }
  }
  // A node the inventory keeps out (fan_out=off: it cannot reach the others) gets its files from the controller.
  std::vector<std::vector<const ReleaseFile*>> candidates = wanted;
  for (std::size_t i = 0; i < slots.size(); ++i) {
    if (!slots[i]->node->fan_out) {
      candidates[i].clear();
    }
  }
  auto files = choose_fan_out(candidates, mode);
  if (files.empty()) {
    return;
  }
  Output& output = cluster.output();
  auto key = generate_key_pair();
  if (!key) {
    output.progress("fan-out", "warning: " + key.error() + ": every node gets its files from the controller");
    return;
  }

  // Every node of a file to pass on gets the deploy's key; taken away again below, whatever happens.
  std::vector<bool> opened(slots.size(), false), can_pass_on(slots.size(), false);
  std::vector<std::string> host_keys(slots.size());
  std::vector<NodeSlot*> involved;
  for (const auto& file : files) {
    for (const auto& [node, _] : file.nodes) {
      if (std::find(involved.begin(), involved.end(), slots[node]) == involved.end()) {
        involved.push_back(slots[node]);
      }
    }
  }
  auto index_of = [&](const NodeSlot& slot) {
    return static_cast<std::size_t>(std::find(slots.begin(), slots.end(), &slot) - slots.begin());
  };
  struct CloseRelays {
    Cluster& cluster;
    std::vector<NodeSlot*> nodes;
    ~CloseRelays() // also on nodes marked failed meanwhile: every node that is still connected
    {
      run_parallel(nodes.size(), cluster.parallel(), [&](std::size_t i) {
        if (!nodes[i]->ops) {
          return;
        }
        if (auto closed = nodes[i]->ops->close_relay(); !closed) {
          cluster.output().progress(nodes[i]->node->name, "warning: " + closed.error() +
                                                              " (the key expires on the node within an hour)");
        }
        crash_point("relay-closed");
      });
    }
  } close{cluster, involved};
  output.phase("fan-out");
  cluster.for_each_of(involved, [&](NodeSlot& slot) {
    std::size_t i = index_of(slot);
    auto relay = slot.ops->open_relay(*key);
    crash_point("relay-opened");
    if (!relay) {
      std::string why = relay.error();
      if (why.starts_with(slot.node->name + ": ")) {
        why.erase(0, slot.node->name.size() + 2);
      }
      output.progress(slot.node->name, "fan-out: " + why + "; it gets its files from the controller");
      return;
    }
    opened[i] = true;
    can_pass_on[i] = relay->can_pass_on;
    for (const auto& line : relay->host_keys) {
      host_keys[i] += known_hosts_name(*slot.node) + " " + line + "\n";
    }
  });
  for (auto& file : files) { // a node that could not open gets its files from the controller
    std::erase_if(file.nodes, [&](const auto& entry) { return !opened[entry.first]; });
  }
  std::erase_if(files, [](const FanOutFile& file) { return file.nodes.size() < 2; });
  if (files.empty()) {
    return;
  }

  // Everything else these nodes must get goes from the controller through the same supervisor: it
  // overlaps passing on, and each node is in one transfer at a time.
  std::size_t relayed_files = files.size();
  for (std::size_t i = 0; i < slots.size(); ++i) {
    for (const ReleaseFile* file : wanted[i]) {
      bool passed_on = std::any_of(files.begin(), files.begin() + static_cast<long>(relayed_files), [&](const auto& f) {
        return std::any_of(f.nodes.begin(), f.nodes.end(),
                           [&](const auto& entry) { return entry.first == i && entry.second == file; });
      });
      if (!passed_on) {
        files.push_back(FanOutFile{file->sha256, local_size(*file), {{i, file}}, false});
      }
    }
  }
  const std::string relay_user = cluster.plan().cluster + "-relay";
  auto release_of = [&](std::size_t i) -> const NodeRelease& { return work.at(slots[i]->node->name).release; };
  FanOutMoves moves;
  moves.send = [&](std::size_t to, const ReleaseFile& file) -> Result<void> {
    CD_TRY_VOID(slots[to]->ops->upload(release_of(to), file));
    output.sent(local_size(file));
    return {};
  };
  std::mutex relayed_mutex;
  std::map<std::size_t, std::vector<const ReleaseFile*>> relayed; ///< node -> in its relay inbox, unchecked
  moves.pass_on = [&](std::size_t from, const ReleaseFile& held, std::size_t to, const ReleaseFile& file) -> Result<void> {
    auto [address, port] = peer_address(*slots[to]->node);
    RelayPeer peer{relay_user + "@" + address, port, host_keys[to]};
    CD_TRY_VOID(slots[from]->ops->pass_on(release_of(from), held, peer, slots[to]->node->name));
    std::lock_guard lock(relayed_mutex);
    relayed[to].push_back(&file);
    return {};
  };
  moves.fell_back = [&](std::size_t from, std::size_t to, const ReleaseFile& file, const std::string& why) {
    output.progress(slots[to]->node->name, "fan-out: " + file.path + " from " + slots[from]->node->name +
                                               " failed (" + why + "); sending it from the controller");
  };
  FanOutCounts counts;
  auto failed = supervise_fan_out(files, can_pass_on, moves, counts);

  // What arrived by relay counts once the receiver's root has checked it (one round trip a
  // node); what did not arrive whole stays in `uploads` and is sent from the controller.
  std::vector<std::pair<std::size_t, std::vector<const ReleaseFile*>>> receivers(relayed.begin(), relayed.end());
  std::vector<std::vector<std::string>> resend(receivers.size());
  run_parallel(receivers.size(), cluster.parallel(), [&](std::size_t r) {
    auto [node, got] = receivers[r];
    auto adopted = slots[node]->ops->adopt(release_of(node), got);
    for (const ReleaseFile* file : got) {
      if (!adopted || std::find(adopted->begin(), adopted->end(), file->path) != adopted->end()) {
        resend[r].push_back(file->path);
        output.progress(slots[node]->node->name, "fan-out: " + file->path + " did not arrive whole" +
                                                     (adopted ? "" : " (" + adopted.error() + ")") +
                                                     "; sending it from the controller");
      }
    }
  });
  std::uint64_t one_copy = 0;
  for (const auto& file : files) {
    one_copy += file.pass_on ? file.bytes : 0;
    for (const auto& [node, sent] : file.nodes) {
      auto r = std::find_if(receivers.begin(), receivers.end(), [&](const auto& entry) { return entry.first == node; });
      if (r != receivers.end()) {
        const auto& again = resend[static_cast<std::size_t>(r - receivers.begin())];
        if (std::find(again.begin(), again.end(), sent->path) != again.end()) {
          counts.fallbacks += 1;
          continue;
        }
      }
      std::erase(uploads[slots[node]->node->name], sent);
    }
  }
  for (const auto& [node, why] : failed) {
    cluster.mark_failed(*slots[node], "-", "stage", why, 0);
  }
  output.progress("fan-out", std::to_string(relayed_files) + (relayed_files == 1 ? " file (" : " files (") +
                                 format_bytes(one_copy) + " in one copy each): " +
                                 std::to_string(counts.sent) + " sent from the controller (" + format_bytes(counts.bytes_sent) +
                                 "), " + std::to_string(counts.passed_on) + " passed on between nodes, " +
                                 std::to_string(counts.fallbacks) + " fell back");
}

} // namespace deploy
