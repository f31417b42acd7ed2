#pragma once

// The worker's own logic: which release it runs, which blocks of numbers are its own, counting
// primes in a block, and the JSON documents it publishes. Pure functions, unit-tested.

#include <cstdint>
#include <optional>
#include <string>

namespace worker {

/// Numbers per block: block b is [b * k_block_size, (b + 1) * k_block_size).
inline constexpr std::uint64_t k_block_size = 100000;

/// The release id in "/opt/<cluster>/releases/<id>/bin/<program>", or "unknown" for any other path.
std::string release_from_path(const std::string& exe_path, const std::string& cluster);

/// Round-robin assignment: block b belongs to shard b % shards.
bool owns_block(std::uint64_t block, std::uint64_t shard, std::uint64_t shards);
/// The n-th (0-based) block that belongs to `shard`.
std::uint64_t nth_block(std::uint64_t n, std::uint64_t shard, std::uint64_t shards);

bool is_prime(std::uint64_t n);
/// Number of primes p with first <= p < end.
std::uint64_t count_primes(std::uint64_t first, std::uint64_t end);
std::uint64_t count_primes_in_block(std::uint64_t block);

/// What a worker has done so far on its shard.
struct Progress {
  std::uint64_t blocks_done = 0;
  std::uint64_t primes_found = 0;
  std::optional<std::uint64_t> last_block; ///< empty before the first block
};

/// Key "/<cluster>/workers/<node>" and its value {"node","release","pid","shard"}.
std::string registration_key(const std::string& cluster, const std::string& node);
std::string registration_json(const std::string& node, const std::string& release, long pid, std::uint64_t shard);

/// What the worker saw go wrong, for the faults a test injects to show: the outcome of its last
/// checkpoint write ("ok" or the error, like "No space left on device": disk-full), how many
/// times it found the checkpoint damaged (corrupt), and how many etcd requests failed (loss).
struct Observations {
  std::string last_write = "ok";
  std::uint64_t corrupt_found = 0;
  std::uint64_t etcd_failures = 0;
};

/// Key "/<cluster>/results/<node>" and its value {"node","shard","blocks_done","primes_found","last_block",
/// "published_at","disk","corrupt_found","etcd_failures"} (last_block is null before the first block;
/// published_at is `now`, the worker's own clock in seconds since the epoch: what a clock fault shows;
/// the last three are the Observations).
std::string result_key(const std::string& cluster, const std::string& node);
std::string result_json(const std::string& node, std::uint64_t shard, const Progress& progress, long now,
                        const Observations& seen = {});

/// Progress from a result published earlier, so a restarted worker carries on where it stopped.
/// nullopt when the document is not a result for this node and shard.
std::optional<Progress> parse_result(const std::string& text, const std::string& node, std::uint64_t shard);

/// Adds one finished block to the progress.
void record_block(Progress* progress, std::uint64_t block, std::uint64_t primes);

/// The block to do next: the first block of the shard, or the shard's next block after last_block.
std::uint64_t next_block(const Progress& progress, std::uint64_t shard, std::uint64_t shards);

} // namespace worker
