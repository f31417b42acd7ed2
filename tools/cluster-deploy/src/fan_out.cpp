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
#include <numeric>
#include <thread>

namespace deploy {
namespace {

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

/// One supervise_fan_out call: who holds, awaits and is sending which file. Every member is
/// guarded by `mutex_`; a transfer's work runs on its own thread without it, and its result is
/// booked under it (finish_send, finish_pass_on). run() assigns free nodes until every file has
/// reached every node or failed.
class FanOutSupervisor {
public:
  FanOutSupervisor(const std::vector<FanOutFile>& files, std::vector<bool> can_pass_on, const FanOutMoves& moves,
                   FanOutCounts& counts)
      : files_(files), can_pass_on_(std::move(can_pass_on)), moves_(moves), counts_(counts), spread_(files.size()),
        busy_(can_pass_on_.size(), false), direct_only_(can_pass_on_.size(), false)
  {
    for (std::size_t f = 0; f < files_.size(); ++f) {
      const auto& held = files_[f].holders;
      for (std::size_t i = 0; i < files_[f].nodes.size(); ++i) {
        bool holds = std::find(held.begin(), held.end(), i) != held.end();
        (holds ? spread_[f].holders : spread_[f].pending).push_back(i);
      }
    }
  }

  std::map<std::size_t, std::string> run()
  {
    {
      std::unique_lock lock(mutex_);
      while (true) {
        if (interrupted()) { // start nothing more; what is under way ends by itself
          fail_pending([](const ReleaseFile&) { return "fan-out: stopped by " + interrupt_name(); });
        } else {
          assign();
        }
        if (in_flight_ == 0) {
          // Nothing moves and something is left: cannot happen (a node with nothing in
          // flight is never busy, so assign() sends from the controller); stop rather than spin.
          fail_pending([](const ReleaseFile& file) { return "fan-out: " + file.path + " was never sent"; });
          break;
        }
        // Every transfer ends (each move is bounded by its own timeout); look at the signal
        // flag now and then meanwhile.
        done_.wait_for(lock, std::chrono::milliseconds(200));
      }
    }
    transfers_.clear(); // joins; all have finished
    return failed_;
  }

private:
  using Finish = void (FanOutSupervisor::*)(std::size_t f, std::size_t from_p, std::size_t to_p, Result<void>);

  /// Every node still waiting for a file fails, saying `why(file)`.
  template <typename Why> void fail_pending(Why why)
  {
    for (std::size_t f = 0; f < files_.size(); ++f) {
      for (std::size_t p : spread_[f].pending) {
        failed_.emplace(files_[f].nodes[p].first, why(*files_[f].nodes[p].second));
      }
      spread_[f].pending.clear();
    }
  }

  /// Runs `work` on its own thread, then `finish` under the mutex. Called with the mutex held.
  void start(std::size_t f, std::size_t from_p, std::size_t to_p, Finish finish, std::function<Result<void>()> work)
  {
    ++in_flight_;
    ++spread_[f].in_flight;
    transfers_.emplace_back([this, f, from_p, to_p, finish, work = std::move(work)] {
      Result<void> result = fail("not run");
      try {
        result = work();
      } catch (const std::exception& e) {
        result = fail(e.what());
      }
      std::unique_lock lock(mutex_);
      --in_flight_;
      --spread_[f].in_flight;
      (this->*finish)(f, from_p, to_p, std::move(result));
      done_.notify_all();
    });
  }

  /// From the controller to position `p` of file `f` (a first copy, or a fallback).
  void send(std::size_t f, std::size_t p)
  {
    std::size_t node = files_[f].nodes[p].first;
    busy_[node] = true;
    start(f, p, p, &FanOutSupervisor::finish_send,
          [this, f, p, node] { return moves_.send(node, *files_[f].nodes[p].second); });
  }

  void finish_send(std::size_t f, std::size_t p, std::size_t, Result<void> result)
  {
    std::size_t node = files_[f].nodes[p].first;
    busy_[node] = false;
    if (!result) {
      failed_.emplace(node, result.error());
      return;
    }
    if (files_[f].pass_on) {
      ++counts_.sent;
      counts_.bytes_sent += files_[f].bytes;
    }
    spread_[f].holders.push_back(p);
  }

  /// From the node at `from_p` to the node at `to_p`, of file `f`. A holder is out of
  /// `holders` while it passes on; it returns when done.
  void pass_on(std::size_t f, std::size_t from_p, std::size_t to_p)
  {
    std::size_t from = files_[f].nodes[from_p].first;
    std::size_t to = files_[f].nodes[to_p].first;
    busy_[from] = busy_[to] = true;
    start(f, from_p, to_p, &FanOutSupervisor::finish_pass_on, [this, f, from_p, to_p, from, to] {
      return moves_.pass_on(from, *files_[f].nodes[from_p].second, to, *files_[f].nodes[to_p].second);
    });
    auto& holders = spread_[f].holders;
    holders.erase(std::find(holders.begin(), holders.end(), from_p));
  }

  void finish_pass_on(std::size_t f, std::size_t from_p, std::size_t to_p, Result<void> result)
  {
    std::size_t from = files_[f].nodes[from_p].first;
    std::size_t to = files_[f].nodes[to_p].first;
    busy_[from] = busy_[to] = false;
    spread_[f].holders.push_back(from_p);
    if (result) {
      crash_point("passed-on");
      ++counts_.passed_on;
      spread_[f].holders.push_back(to_p);
      return;
    }
    // The sender passes nothing on any more; `to` gets files from the controller from now on
    // (and may still pass them on: it may be the sender's fault).
    ++counts_.fallbacks;
    can_pass_on_[from] = false;
    direct_only_[to] = true;
    spread_[f].pending.push_back(to_p);
    moves_.fell_back(from, to, *files_[f].nodes[to_p].second, result.error());
  }

  /// From the controller to each free node still waiting for file `f` that `pick` takes, in order.
  void send_from_here(std::size_t f, const std::function<bool(std::size_t node)>& pick)
  {
    auto& pending = spread_[f].pending;
    for (auto it = pending.begin(); it != pending.end();) {
      std::size_t node = files_[f].nodes[*it].first;
      if (busy_[node] || !pick(node)) {
        ++it;
        continue;
      }
      std::size_t p = *it;
      it = pending.erase(it);
      send(f, p);
    }
  }

  /// While a first copy is on its way, the uplink is its alone: what no node passes on waits.
  bool seeding() const
  {
    for (std::size_t f = 0; f < files_.size(); ++f) {
      if (files_[f].pass_on && spread_[f].holders.empty() && spread_[f].in_flight > 0) {
        return true;
      }
    }
    return false;
  }

  /// Every free holder of file `f` that may pass files on sends it to a free node waiting for it.
  void pass_on_from_holders(std::size_t f)
  {
    Spread& s = spread_[f];
    for (std::size_t h = 0; h < s.holders.size();) {
      std::size_t holder = s.holders[h];
      std::size_t node = files_[f].nodes[holder].first;
      auto target = std::find_if(s.pending.begin(), s.pending.end(), [&](std::size_t p) {
        std::size_t to = files_[f].nodes[p].first;
        return !busy_[to] && !direct_only_[to];
      });
      if (busy_[node] || !can_pass_on_[node] || target == s.pending.end()) {
        ++h;
        continue;
      }
      std::size_t to = *target;
      s.pending.erase(target);
      pass_on(f, holder, to); // removes `holder` from s.holders
    }
  }

  /// From the controller: each node no other may send to, and, when no holder can pass file
  /// `f` on and nothing is under way (the first copy, or after failures), one node that can;
  /// when no node left could pass it on, every one.
  void send_what_no_node_passes_on(std::size_t f, bool any_holder_can_pass_on)
  {
    Spread& s = spread_[f];
    bool seed = !any_holder_can_pass_on && s.in_flight == 0;
    send_from_here(f, [&](std::size_t node) {
      seed = seed && !(direct_only_[node] && can_pass_on_[node]);
      return direct_only_[node];
    });
    send_from_here(f, [&](std::size_t node) {
      bool wanted = seed && can_pass_on_[node];
      seed = seed && !wanted;
      return wanted;
    });
    bool none_can = std::none_of(s.pending.begin(), s.pending.end(),
                                 [&](std::size_t p) { return can_pass_on_[files_[f].nodes[p].first]; });
    if (seed && none_can) {
      send_from_here(f, [](std::size_t) { return true; });
    }
  }

  void assign()
  {
    for (std::size_t f = 0; f < files_.size(); ++f) {
      Spread& s = spread_[f];
      std::erase_if(s.pending, [&](std::size_t p) { return failed_.count(files_[f].nodes[p].first) > 0; });
      if (!files_[f].pass_on) { // from the controller, to each node when it is free
        send_from_here(f, [&](std::size_t) { return !seeding(); });
        continue;
      }
      bool any_can_pass_on = std::any_of(s.holders.begin(), s.holders.end(),
                                         [&](std::size_t p) { return can_pass_on_[files_[f].nodes[p].first]; });
      pass_on_from_holders(f);
      send_what_no_node_passes_on(f, any_can_pass_on);
    }
  }

  const std::vector<FanOutFile>& files_;
  std::vector<bool> can_pass_on_;
  const FanOutMoves& moves_;
  FanOutCounts& counts_;
  std::mutex mutex_;
  std::condition_variable done_;
  std::vector<Spread> spread_;
  std::map<std::size_t, std::string> failed_; ///< node -> why
  std::vector<bool> busy_;
  std::vector<bool> direct_only_; ///< a transfer to it between nodes failed
  int in_flight_ = 0;
  std::vector<std::jthread> transfers_; ///< last: joined before the rest goes
};

/// The nodes `file` goes to, in its order: files with the same nodes go down one stream.
std::vector<std::size_t> nodes_of(const FanOutFile& file)
{
  std::vector<std::size_t> nodes;
  for (const auto& entry : file.nodes) {
    nodes.push_back(entry.first);
  }
  return nodes;
}

/// The bytes of all of `files` that pass on and go to the same nodes as each one, by those nodes.
std::map<std::vector<std::size_t>, std::uint64_t> bytes_by_nodes(const std::vector<FanOutFile>& files)
{
  std::map<std::vector<std::size_t>, std::uint64_t> bytes;
  for (const auto& file : files) {
    if (file.pass_on) {
      bytes[nodes_of(file)] += file.bytes;
    }
  }
  return bytes;
}

/// One stream_fan_out call. The files that go to the same nodes (that can pass on) form one
/// stream, taken by every node in one move; a thread per node takes that node's streams in
/// order, each once its parent has begun to take it. Guarded by `mutex_`.
class Streams {
public:
  Streams(const std::vector<FanOutFile>& files, const std::vector<bool>& can_pass_on, const FanOutMoves& moves,
          FanOutCounts& counts)
      : files_(files), moves_(moves), counts_(counts)
  {
    std::vector<std::size_t> order(files.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return files[a].bytes > files[b].bytes; });
    std::map<std::vector<std::size_t>, std::size_t> by_nodes; // the nodes that take a stream -> that stream
    for (std::size_t f : order) {
      std::vector<std::size_t> members, nodes;
      for (std::size_t p = 0; files_[f].pass_on && p < files_[f].nodes.size(); ++p) {
        if (can_pass_on[files_[f].nodes[p].first]) {
          members.push_back(p);
          nodes.push_back(files_[f].nodes[p].first);
        }
      }
      if (members.empty()) {
        continue;
      }
      auto [it, added] = by_nodes.emplace(nodes, streams_.size());
      if (added) {
        streams_.push_back(Stream{nodes, {}, {}});
      }
      streams_[it->second].files.emplace_back(f, std::move(members));
    }
    fold_small_streams();
    for (std::size_t s = 0; s < streams_.size(); ++s) {
      streams_[s].state.assign(streams_[s].nodes.size(), State::waiting);
      for (std::size_t m = 0; m < streams_[s].nodes.size(); ++m) {
        work_[streams_[s].nodes[m]].emplace_back(s, m);
      }
    }
  }

  std::vector<std::vector<std::size_t>> run()
  {
    std::vector<std::pair<std::size_t, std::vector<Item>>> nodes(work_.begin(), work_.end());
    // All at once: a node waits for its parent, which must be under way.
    run_parallel(nodes.size(), static_cast<int>(nodes.size()), [&](std::size_t i) {
      for (auto [s, m] : nodes[i].second) {
        take(nodes[i].first, s, m);
      }
    });
    std::vector<std::vector<std::size_t>> got(files_.size());
    for (const Stream& stream : streams_) {
      for (const auto& [f, members] : stream.files) {
        for (std::size_t m = 0; m < members.size(); ++m) {
          if (stream.state[m] == State::done) {
            got[f].push_back(members[m]);
          }
        }
      }
    }
    return got;
  }

private:
  enum class State { waiting, started, done, failed };
  using Item = std::pair<std::size_t, std::size_t>; ///< a stream, and a member of it

  struct Stream {
    std::vector<std::size_t> nodes; ///< its members' node indices, in the tree's order
    std::vector<std::pair<std::size_t, std::vector<std::size_t>>> files; ///< a file, and its members' positions in it
    std::vector<State> state; ///< per member
  };

  std::uint64_t bytes_of(const Stream& stream) const
  {
    std::uint64_t bytes = 0;
    for (const auto& [f, members] : stream.files) {
      bytes += files_[f].bytes;
    }
    return bytes;
  }

  /// A small stream (under k_stream_min_bytes) rides at the end of the larger streams whose
  /// nodes all take it too: those nodes get its files over the connection they have for the
  /// larger one, not in a round of takes of its own after it (the libraries a cluster's
  /// programs share: 4 s of an 18 s stage at 32 nodes, docs/benchmarks.md "Fan-out"). The
  /// controller sends its files once per stream they ride; the nodes no larger stream takes
  /// keep it as a stream among themselves.
  void fold_small_streams()
  {
    std::vector<bool> large;
    for (const Stream& stream : streams_) {
      large.push_back(bytes_of(stream) >= k_stream_min_bytes);
    }
    for (std::size_t t = 0; t < streams_.size(); ++t) {
      if (large[t]) {
        continue;
      }
      Stream& small = streams_[t];
      std::map<std::size_t, std::size_t> left; // node -> its member index in `small`, while no larger stream carries it
      for (std::size_t m = 0; m < small.nodes.size(); ++m) {
        left.emplace(small.nodes[m], m);
      }
      for (std::size_t u = 0; u < streams_.size(); ++u) {
        Stream& carrier = streams_[u];
        if (!large[u] || !std::all_of(carrier.nodes.begin(), carrier.nodes.end(), [&](std::size_t n) { return left.count(n) > 0; })) {
          continue;
        }
        for (const auto& [f, members] : small.files) {
          std::vector<std::size_t> riding;
          for (std::size_t node : carrier.nodes) {
            riding.push_back(members[left.at(node)]);
          }
          carrier.files.emplace_back(f, std::move(riding));
        }
        for (std::size_t node : carrier.nodes) {
          left.erase(node);
        }
      }
      keep_only(small, left);
    }
    std::erase_if(streams_, [](const Stream& stream) { return stream.nodes.empty(); });
  }

  /// `stream` keeps the members `left` names (node -> member index), in their order.
  static void keep_only(Stream& stream, const std::map<std::size_t, std::size_t>& left)
  {
    std::vector<std::size_t> kept;
    for (std::size_t m = 0; m < stream.nodes.size(); ++m) {
      if (left.count(stream.nodes[m]) > 0) {
        kept.push_back(m);
      }
    }
    std::vector<std::size_t> nodes;
    for (std::size_t m : kept) {
      nodes.push_back(stream.nodes[m]);
    }
    stream.nodes = std::move(nodes);
    for (auto& [f, members] : stream.files) {
      std::vector<std::size_t> positions;
      for (std::size_t m : kept) {
        positions.push_back(members[m]);
      }
      members = std::move(positions);
    }
  }

  /// Member `m` of stream `s` (node `node`) takes it from its parent, or from the controller.
  void take(std::size_t node, std::size_t s, std::size_t m)
  {
    Stream& stream = streams_[s];
    auto parent = stream_parent(m);
    {
      std::unique_lock lock(mutex_);
      changed_.wait(lock, [&] { return !parent || stream.state[*parent] != State::waiting; });
      if ((parent && stream.state[*parent] == State::failed) || interrupted()) {
        stream.state[m] = State::failed;
        changed_.notify_all();
        return;
      }
      stream.state[m] = State::started;
      changed_.notify_all();
    }
    std::optional<std::size_t> from;
    if (parent) {
      from = stream.nodes[*parent];
    }
    std::vector<const ReleaseFile*> files;
    std::uint64_t bytes = 0;
    for (const auto& [f, members] : stream.files) {
      files.push_back(files_[f].nodes[members[m]].second);
      bytes += files_[f].bytes;
    }
    Result<void> result = fail("not run");
    try {
      result = moves_.take(node, from, files);
    } catch (const std::exception& e) {
      result = fail(e.what());
    }
    std::unique_lock lock(mutex_);
    stream.state[m] = result ? State::done : State::failed;
    changed_.notify_all();
    if (!result && parent) { // was it the parent's stream that broke? Its take ends too (bounded)
      changed_.wait(lock, [&] { return stream.state[*parent] == State::done || stream.state[*parent] == State::failed; });
    }
    if (result) {
      (from ? counts_.passed_on : counts_.sent) += static_cast<int>(files.size());
      counts_.bytes_sent += from ? 0 : bytes;
      if (from) {
        crash_point("passed-on");
      }
    } else if (!parent || stream.state[*parent] != State::failed) { // below a broken stream: no news
      moves_.stream_broke(from, node, *files.front(), result.error());
    }
  }

  const std::vector<FanOutFile>& files_;
  const FanOutMoves& moves_;
  FanOutCounts& counts_;
  std::vector<Stream> streams_;
  std::map<std::size_t, std::vector<Item>> work_; ///< node -> its items, largest stream first
  std::mutex mutex_;
  std::condition_variable changed_;
};

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
      if (!is_program(*file)) { // configs may hold secrets
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
    chosen.push_back(std::move(entry));
  }
  auto together = bytes_by_nodes(chosen); // a program and its libraries go to the same nodes
  std::erase_if(chosen, [&](const FanOutFile& file) {
    return mode == FanOutMode::on ? file.nodes.size() < 2
                                  : file.nodes.size() < k_fan_out_min_nodes || together[nodes_of(file)] < k_fan_out_min_bytes;
  });
  return chosen;
}

std::optional<std::size_t> stream_parent(std::size_t p)
{
  if (p == 0) {
    return std::nullopt;
  }
  return (p - 1) / k_stream_degree;
}

std::vector<std::vector<std::size_t>> stream_fan_out(const std::vector<FanOutFile>& files,
                                                     const std::vector<bool>& can_pass_on, const FanOutMoves& moves,
                                                     FanOutCounts& counts)
{
  return Streams(files, can_pass_on, moves, counts).run();
}

std::map<std::size_t, std::string> supervise_fan_out(const std::vector<FanOutFile>& files,
                                                     std::vector<bool> can_pass_on, const FanOutMoves& moves,
                                                     FanOutCounts& counts)
{
  return FanOutSupervisor(files, std::move(can_pass_on), moves, counts).run();
}

namespace {

/// The alive nodes that are to get files, and what each is to get.
struct FanOutNodes {
  std::vector<NodeSlot*> slots;
  std::vector<std::vector<const ReleaseFile*>> wanted;

  /// What each node may get from another: nothing for a node the inventory keeps out
  /// (fan_out=off: it cannot reach the others), which gets its files from the controller.
  std::vector<std::vector<const ReleaseFile*>> candidates() const
  {
    auto candidates = wanted;
    for (std::size_t i = 0; i < slots.size(); ++i) {
      if (!slots[i]->node->fan_out) {
        candidates[i].clear();
      }
    }
    return candidates;
  }

  std::size_t index_of(const NodeSlot& slot) const
  {
    return static_cast<std::size_t>(std::find(slots.begin(), slots.end(), &slot) - slots.begin());
  }
};

FanOutNodes nodes_with_uploads(Cluster& cluster, const std::map<std::string, std::vector<const ReleaseFile*>>& uploads)
{
  FanOutNodes nodes;
  for (auto& slot : cluster.slots()) {
    auto it = uploads.find(slot.node->name);
    if (slot.alive() && it != uploads.end() && !it->second.empty()) {
      nodes.slots.push_back(&slot);
      nodes.wanted.push_back(it->second);
    }
  }
  return nodes;
}

std::vector<NodeSlot*> involved_in(const std::vector<FanOutFile>& files, const FanOutNodes& nodes)
{
  std::vector<NodeSlot*> involved;
  for (const auto& file : files) {
    for (const auto& [node, _] : file.nodes) {
      if (std::find(involved.begin(), involved.end(), nodes.slots[node]) == involved.end()) {
        involved.push_back(nodes.slots[node]);
      }
    }
  }
  return involved;
}

/// Closes the relays of `nodes` when it goes, whatever happened: also on nodes marked failed
/// meanwhile, on every node that is still connected.
struct CloseRelays {
  Cluster& cluster;
  std::vector<NodeSlot*> nodes;
  ~CloseRelays()
  {
    run_parallel(nodes.size(), cluster.parallel(), [&](std::size_t i) {
      if (!nodes[i]->ops) {
        return;
      }
      if (auto closed = nodes[i]->ops->close_relay(); !closed) {
        cluster.output().progress(nodes[i]->node->name,
                                  "warning: " + closed.error() + " (the key expires on the node within an hour)");
      }
      crash_point("relay-closed");
    });
  }
};

/// What opening the relays found, by position in FanOutNodes::slots.
struct Relays {
  std::vector<bool> opened, can_pass_on;
  std::vector<std::string> host_keys; ///< known_hosts lines other nodes reach it with
};

Relays open_relays(Cluster& cluster, const FanOutNodes& nodes, const std::vector<NodeSlot*>& involved, const KeyPair& key)
{
  std::size_t n = nodes.slots.size();
  Relays relays{std::vector<bool>(n, false), std::vector<bool>(n, false), std::vector<std::string>(n)};
  cluster.for_each_of(involved, [&](NodeSlot& slot) {
    std::size_t i = nodes.index_of(slot);
    auto relay = slot.ops->open_relay(key);
    crash_point("relay-opened");
    if (!relay) {
      std::string why = relay.error();
      if (why.starts_with(slot.node->name + ": ")) {
        why.erase(0, slot.node->name.size() + 2);
      }
      cluster.output().progress(slot.node->name, "fan-out: " + why + "; it gets its files from the controller");
      return;
    }
    relays.opened[i] = true;
    relays.can_pass_on[i] = relay->can_pass_on;
    for (const auto& line : relay->host_keys) {
      relays.host_keys[i] += known_hosts_name(*slot.node) + " " + line + "\n";
    }
  });
  return relays;
}


/// What arrived by relay counts once the receiver's root has checked it (one round trip a
/// node). Returns, per receiving node, the paths that did not arrive whole.
std::map<std::size_t, std::vector<std::string>> adopt_relayed(
    Cluster& cluster, const FanOutNodes& nodes, const ClusterChanges& work,
    const std::map<std::size_t, std::vector<const ReleaseFile*>>& relayed)
{
  std::vector<std::pair<std::size_t, std::vector<const ReleaseFile*>>> receivers(relayed.begin(), relayed.end());
  std::vector<std::vector<std::string>> resend(receivers.size());
  run_parallel(receivers.size(), cluster.parallel(), [&](std::size_t r) {
    const auto& [node, got] = receivers[r];
    NodeSlot& slot = *nodes.slots[node];
    auto adopted = slot.ops->adopt(work.at(slot.node->name).release, got);
    for (const ReleaseFile* file : got) {
      if (!adopted || std::find(adopted->begin(), adopted->end(), file->path) != adopted->end()) {
        resend[r].push_back(file->path);
        cluster.output().progress(slot.node->name, "fan-out: " + file->path + " did not arrive whole" +
                                                       (adopted ? "" : " (" + adopted.error() + ")") +
                                                       "; sending it from the controller");
      }
    }
  });
  std::map<std::size_t, std::vector<std::string>> again;
  for (std::size_t r = 0; r < receivers.size(); ++r) {
    again[receivers[r].first] = std::move(resend[r]);
  }
  return again;
}

/// Takes what arrived whole out of `uploads`; what did not (`resend`) stays there, to be sent
/// from the controller, and counts as a fallback. Returns the bytes of one copy of each file passed on.
std::uint64_t take_delivered(const std::vector<FanOutFile>& files, const std::map<std::size_t, std::vector<std::string>>& resend,
                             const FanOutNodes& nodes, std::map<std::string, std::vector<const ReleaseFile*>>& uploads,
                             FanOutCounts& counts)
{
  std::uint64_t one_copy = 0;
  for (const auto& file : files) {
    one_copy += file.pass_on ? file.bytes : 0;
    for (const auto& [node, sent] : file.nodes) {
      auto again = resend.find(node);
      if (again != resend.end() && std::find(again->second.begin(), again->second.end(), sent->path) != again->second.end()) {
        counts.fallbacks += 1;
        continue;
      }
      std::erase(uploads[nodes.slots[node]->node->name], sent);
    }
  }
  return one_copy;
}

/// Streams the files that pass on (those that go to the same nodes as one stream, when they are
/// k_stream_min_bytes together or go to k_fan_out_min_nodes nodes or more: passing on whole
/// would take a round of passes for every doubling of the nodes that have them) while the
/// supervisor moves every other file whole, then
/// passes on whole what no stream brought. `files` ends up in another order. Returns, per node
/// that did not get every file, why.
std::map<std::size_t, std::string> move_files(std::vector<FanOutFile>& files, const std::vector<bool>& can_pass_on,
                                              const FanOutMoves& moves, FanOutCounts& counts)
{
  std::vector<FanOutFile> streamed, whole;
  auto together = bytes_by_nodes(files);
  for (auto& file : files) {
    bool stream = together[nodes_of(file)] >= k_stream_min_bytes || file.nodes.size() >= k_fan_out_min_nodes;
    (file.pass_on && stream ? streamed : whole).push_back(std::move(file));
  }
  FanOutCounts whole_counts;
  std::map<std::size_t, std::string> failed;
  {
    std::jthread meanwhile([&] { failed = supervise_fan_out(whole, can_pass_on, moves, whole_counts); });
    auto got = stream_fan_out(streamed, can_pass_on, moves, counts);
    for (std::size_t f = 0; f < streamed.size(); ++f) {
      streamed[f].holders = std::move(got[f]);
    }
  }
  failed.merge(supervise_fan_out(streamed, can_pass_on, moves, counts));
  counts.sent += whole_counts.sent;
  counts.passed_on += whole_counts.passed_on;
  counts.fallbacks += whole_counts.fallbacks;
  counts.bytes_sent += whole_counts.bytes_sent;
  files = std::move(streamed);
  std::move(whole.begin(), whole.end(), std::back_inserter(files));
  return failed;
}

std::string summary_line(std::size_t relayed_files, std::uint64_t one_copy, const FanOutCounts& counts)
{
  return std::to_string(relayed_files) + (relayed_files == 1 ? " file (" : " files (") + format_bytes(one_copy) +
         " in one copy each): " + std::to_string(counts.sent) + " sent from the controller (" +
         format_bytes(counts.bytes_sent) + "), " + std::to_string(counts.passed_on) + " passed on between nodes, " +
         std::to_string(counts.fallbacks) + " fell back";
}

/// What was passed on whole into each node's relay inbox, still unchecked (adopt_relayed).
struct Relayed {
  std::mutex mutex;
  std::map<std::size_t, std::vector<const ReleaseFile*>> files; ///< node -> files in its inbox
};

/// How the fan-out moves files among `nodes`, over their sessions, and what it says meanwhile.
FanOutMoves moves_between(Cluster& cluster, const FanOutNodes& nodes, const Relays& relays, const ClusterChanges& work,
                          Relayed& relayed)
{
  Output& output = cluster.output();
  std::string relay_user = cluster.plan().cluster + "-relay";
  auto release_of = [&nodes, &work](std::size_t i) -> const NodeRelease& {
    return work.at(nodes.slots[i]->node->name).release;
  };
  FanOutMoves moves;
  moves.send = [=, &output, &nodes, &relays, &relayed](std::size_t to, const ReleaseFile& file) -> Result<void> {
    CD_TRY_VOID(nodes.slots[to]->ops->upload(release_of(to), file));
    output.sent(local_size(file));
    return {};
  };
  moves.pass_on = [=, &output, &nodes, &relays, &relayed](std::size_t from, const ReleaseFile& held, std::size_t to, const ReleaseFile& file) -> Result<void> {
    auto [address, port] = peer_address(*nodes.slots[to]->node);
    RelayPeer peer{relay_user + "@" + address, port, relays.host_keys[to]};
    CD_TRY_VOID(nodes.slots[from]->ops->pass_on(release_of(from), held, peer, nodes.slots[to]->node->name));
    std::lock_guard lock(relayed.mutex);
    relayed.files[to].push_back(&file);
    return {};
  };
  moves.take = [=, &output, &nodes, &relays, &relayed](std::size_t to, std::optional<std::size_t> from,
                                                       const std::vector<const ReleaseFile*>& files) -> Result<void> {
    if (!from) {
      CD_TRY_VOID(nodes.slots[to]->ops->take(release_of(to), files, nullptr, ""));
      for (const ReleaseFile* file : files) {
        output.sent(local_size(*file));
      }
      return {};
    }
    auto [address, port] = peer_address(*nodes.slots[*from]->node);
    RelayPeer peer{relay_user + "@" + address, port, relays.host_keys[*from]};
    return nodes.slots[to]->ops->take(release_of(to), files, &peer, nodes.slots[*from]->node->name);
  };
  moves.stream_broke = [=, &output, &nodes, &relays, &relayed](std::optional<std::size_t> from, std::size_t to, const ReleaseFile& file,
                           const std::string& why) {
    output.progress(nodes.slots[to]->node->name,
                    "fan-out: " + file.path + " from " + (from ? nodes.slots[*from]->node->name : "the controller") +
                        " broke off (" + why + "); it gets the file whole from a node that has it, or the controller");
  };
  moves.fell_back = [=, &output, &nodes, &relays, &relayed](std::size_t from, std::size_t to, const ReleaseFile& file, const std::string& why) {
    output.progress(nodes.slots[to]->node->name, "fan-out: " + file.path + " from " + nodes.slots[from]->node->name +
                                                     " failed (" + why + "); sending it from the controller");
  };
  return moves;
}

} // namespace

void fan_out(Cluster& cluster, const ClusterChanges& work,
             std::map<std::string, std::vector<const ReleaseFile*>>& uploads, FanOutMode mode,
             const std::function<void(const std::vector<NodeSlot*>& involved)>& meanwhile)
{
  FanOutNodes nodes = nodes_with_uploads(cluster, uploads);
  auto files = choose_fan_out(nodes.candidates(), mode);
  if (files.empty()) {
    return;
  }
  Output& output = cluster.output();
  auto key = generate_key_pair();
  if (!key) {
    output.progress("fan-out", "warning: " + key.error() + ": every node gets its files from the controller");
    return;
  }
  // Every node of a file to pass on gets the deploy's key; taken away again when `close` goes.
  CloseRelays close{cluster, involved_in(files, nodes)};
  std::jthread others([&] { meanwhile(close.nodes); }); // joined before the relays close
  output.phase("fan-out");
  Relays relays = open_relays(cluster, nodes, close.nodes, *key);
  for (auto& file : files) { // a node that could not open gets its files from the controller
    std::erase_if(file.nodes, [&](const auto& entry) { return !relays.opened[entry.first]; });
  }
  std::erase_if(files, [](const FanOutFile& file) { return file.nodes.size() < 2; });
  if (files.empty()) {
    return;
  }
  std::size_t relayed_files = files.size();

  Relayed relayed;
  FanOutMoves moves = moves_between(cluster, nodes, relays, work, relayed);
  FanOutCounts counts;
  auto failed = move_files(files, relays.can_pass_on, moves, counts);

  std::uint64_t one_copy = take_delivered(files, adopt_relayed(cluster, nodes, work, relayed.files), nodes, uploads, counts);
  for (const auto& [node, why] : failed) {
    cluster.mark_failed(*nodes.slots[node], "-", "stage", why, 0);
  }
  output.progress("fan-out", summary_line(relayed_files, one_copy, counts));
}

} // namespace deploy
