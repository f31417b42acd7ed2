// Fan-out: a program or library that many nodes must get goes from the controller to one of them,
// and flows on from node to node down a tree while it is still arriving (a stream: each node
// reads its parent's copy as the parent writes it), over SSH between nodes with a key made for
// this deploy alone (ssh_keygen.hpp; remote/relay-*.sh). This machine supervises: it picks
// who takes what from whom, and where a stream broke (a node failed, a copy arrived damaged, a
// node cannot reach the others), the nodes that have the file pass it on whole, or the
// controller sends it itself.
#pragma once

#include "cluster.hpp"
#include "error.hpp"
#include "node_change.hpp"
#include "release.hpp"

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace deploy {

/// off: every node gets its files from the controller. on: every program or library that goes to
/// two or more nodes is passed on. automatic: only where it pays (k_fan_out_min_nodes,
/// k_fan_out_min_bytes).
enum class FanOutMode { off, automatic, on };

/// The rule of `automatic`, from docs/benchmarks.md ("Fan-out"): passing a file on costs
/// each hop an SSH connection between nodes and a check of what arrived, which pays only
/// when the controller's uplink would otherwise carry many copies of a large file.
inline constexpr std::size_t k_fan_out_min_nodes = 8;
inline constexpr std::uint64_t k_fan_out_min_bytes = 4 * 1024 * 1024;

/// How many nodes read one node's copy of a stream at most: the tree's degree. Every node
/// sends what it takes on to this many, so it needs this many times the stream's rate out;
/// a node that fails cuts off its part of the tree until the file is passed on again
/// (about 1/3 of the nodes at most, for the root's children).
inline constexpr std::size_t k_stream_degree = 3;

/// The files that go to the same nodes are streamed together, one after the other over one
/// connection a node: a stream, when the files of that set of nodes are this size or more
/// together, or go to k_fan_out_min_nodes nodes or more. A stream costs every node a round trip
/// and a connection to its parent, in step with the others, which a few small files to a few
/// nodes do not pay back; they are passed on whole meanwhile (docs/benchmarks.md, "Fan-out").
inline constexpr std::uint64_t k_stream_min_bytes = 4 * 1024 * 1024;

/// The position (in a stream's order) that position `p` takes the file from: the nodes form a
/// tree of degree k_stream_degree in that order, so a parent always comes before its children.
/// Empty: position 0, which takes it from the controller.
std::optional<std::size_t> stream_parent(std::size_t p);

/// "off", "auto", "on"; empty when `text` is none of them.
std::optional<FanOutMode> parse_fan_out_mode(std::string_view text);

/// One content (by sha256) that several nodes must get, and each node's file of it.
struct FanOutFile {
  std::string sha256;
  std::uint64_t bytes = 0;
  std::vector<std::pair<std::size_t, const ReleaseFile*>> nodes; ///< node index, that node's file
  bool pass_on = true; ///< false: sent from the controller to each node, once no first copy is on its way
  std::vector<std::size_t> holders; ///< positions in `nodes` that have it already (from a stream)
};

/// The files to pass on among `uploads` (per node index: what that node must get), by
/// `mode`: programs and libraries only (configs may hold secrets, and are small), and
/// each at least to two nodes; with `automatic`, to k_fan_out_min_nodes or more, where the
/// files that go to the same nodes are k_fan_out_min_bytes or more together (a program and
/// the libraries it brings travel as one stream).
std::vector<FanOutFile> choose_fan_out(const std::vector<std::vector<const ReleaseFile*>>& uploads, FanOutMode mode);

/// How the supervisor moves one file. A node is in at most one call at a time.
struct FanOutMoves {
  /// Into node `to` as a stream, one file after the other: from the controller (`from` empty)
  /// or from node `from`, which is taking them at the same time, in the same order, over one
  /// connection (each counts once `to` has checked its hash). All or nothing, as far as the
  /// supervisor is concerned: a failed take hands every one of `files` to it.
  std::function<Result<void>(std::size_t to, std::optional<std::size_t> from, const std::vector<const ReleaseFile*>& files)>
      take;
  /// From the controller to node `to`.
  std::function<Result<void>(std::size_t to, const ReleaseFile& file)> send;
  /// From node `from`, which holds it as `held`, to node `to` (where it counts only once
  /// its hash is checked: fan_out() does that for every node at the end).
  std::function<Result<void>(std::size_t from, const ReleaseFile& held, std::size_t to, const ReleaseFile& file)>
      pass_on;
  /// A transfer between nodes failed: `to` gets the file from the controller instead.
  std::function<void(std::size_t from, std::size_t to, const ReleaseFile& file, const std::string& why)> fell_back;
  /// The stream into `to` broke (not because its parent's did): it gets the file passed on whole.
  std::function<void(std::optional<std::size_t> from, std::size_t to, const ReleaseFile& file, const std::string& why)>
      stream_broke;
};

/// What the fan-out did.
struct FanOutCounts {
  int sent = 0;       ///< copies sent from the controller, first copies and fallbacks
  int passed_on = 0;  ///< copies passed between nodes
  int fallbacks = 0;  ///< transfers between nodes that failed (the file was sent from the controller)
  std::uint64_t bytes_sent = 0;
};

/// Streams each file of `files` that passes on down a tree (stream_parent) of its nodes that
/// can read another's copy (`can_pass_on`: they have an ssh client): the files that go to the
/// same nodes share a tree and go down it as one stream (FanOutMoves::take), largest first;
/// the files of a small set (under k_stream_min_bytes) ride at the end of the larger streams
/// its nodes take; a node starts taking a stream once its parent has begun to.
/// A node whose stream broke, and the part of the tree below it, does not get the file here.
/// Returns, per file, the positions in FanOutFile::nodes that got it.
std::vector<std::vector<std::size_t>> stream_fan_out(const std::vector<FanOutFile>& files,
                                                     const std::vector<bool>& can_pass_on, const FanOutMoves& moves,
                                                     FanOutCounts& counts);

/// Gets every file to every node of it: from the nodes that hold it already (FanOutFile::holders),
/// else first from the controller to one node that can pass files on, then from every node
/// that has it to one that lacks it, as nodes become free (so the number of holders about
/// doubles each round); each copy is passed on whole. A node whose transfer between nodes
/// failed gets that file and every later one from the controller, and its sender passes nothing on
/// any more.
/// `can_pass_on[i]`: node i can send to the others. Returns, per node that did not get
/// every file, why. Every call of `moves` is bounded by its own timeout.
std::map<std::size_t, std::string> supervise_fan_out(const std::vector<FanOutFile>& files,
                                                     std::vector<bool> can_pass_on, const FanOutMoves& moves,
                                                     FanOutCounts& counts);

/// When `mode` passes any of `uploads` (node name: what it must get) on between nodes,
/// stages those files, passed on or sent from the controller, and takes them out of `uploads` (what
/// did not arrive whole stays, to be sent again); a node that got them by no way is marked
/// failed. The other files stay in `uploads`, for the controller to send with the seal. While it
/// runs, `meanwhile` gets the nodes it involves, on a thread of its own (the others can stage
/// then). Before it returns, the deploy's key is gone from every node it went to.
void fan_out(Cluster& cluster, const ClusterChanges& work,
             std::map<std::string, std::vector<const ReleaseFile*>>& uploads, FanOutMode mode,
             const std::function<void(const std::vector<NodeSlot*>& involved)>& meanwhile);

} // namespace deploy
