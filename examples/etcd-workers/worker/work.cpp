#include "work.hpp"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <vector>

namespace worker {
namespace {

using json = nlohmann::json;

std::vector<std::string> split_path(const std::string& path)
{
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (start <= path.size()) {
    auto end = path.find('/', start);
    end = end == std::string::npos ? path.size() : end;
    parts.push_back(path.substr(start, end - start));
    start = end + 1;
  }
  return parts;
}

std::uint64_t isqrt(std::uint64_t n)
{
  auto root = static_cast<std::uint64_t>(std::sqrt(static_cast<double>(n)));
  while (root * root > n) {
    --root;
  }
  while ((root + 1) * (root + 1) <= n) {
    ++root;
  }
  return root;
}

/// The primes <= limit (sieve of Eratosthenes).
std::vector<std::uint64_t> primes_up_to(std::uint64_t limit)
{
  std::vector<bool> composite(limit + 1, false);
  std::vector<std::uint64_t> primes;
  for (std::uint64_t n = 2; n <= limit; ++n) {
    if (!composite[n]) {
      primes.push_back(n);
      for (std::uint64_t m = n * n; m <= limit; m += n) {
        composite[m] = true;
      }
    }
  }
  return primes;
}

bool is_count(const json& doc, const char* key)
{
  return doc.contains(key) && doc[key].is_number_unsigned();
}

} // namespace

std::string release_from_path(const std::string& exe_path, const std::string& cluster)
{
  // "/opt/<cluster>/releases/<id>/bin/<program>" splits into "", opt, cluster, releases, id, bin, program.
  const auto parts = split_path(exe_path);
  const bool matches = parts.size() == 7 && parts[0].empty() && parts[1] == "opt" && parts[2] == cluster &&
                       parts[3] == "releases" && !parts[4].empty() && parts[4] != "." && parts[4] != ".." &&
                       parts[5] == "bin" && !parts[6].empty();
  return matches ? parts[4] : "unknown";
}

bool owns_block(std::uint64_t block, std::uint64_t shard, std::uint64_t shards)
{
  return block % shards == shard;
}

std::uint64_t nth_block(std::uint64_t n, std::uint64_t shard, std::uint64_t shards)
{
  return n * shards + shard;
}

bool is_prime(std::uint64_t n)
{
  if (n < 4) {
    return n >= 2;
  }
  if (n % 2 == 0 || n % 3 == 0) {
    return false;
  }
  for (std::uint64_t d = 5; d * d <= n; d += 6) {
    if (n % d == 0 || n % (d + 2) == 0) {
      return false;
    }
  }
  return true;
}

std::uint64_t count_primes(std::uint64_t first, std::uint64_t end)
{
  // Segmented sieve: cost ~ (end - first) + sqrt(end), so blocks stay cheap as the numbers grow
  // (trial division would get slower with every block a long-running worker does).
  if (end <= first) {
    return 0;
  }
  std::vector<bool> composite(end - first, false);
  for (const std::uint64_t p : primes_up_to(isqrt(end - 1))) {
    for (std::uint64_t m = std::max(p * p, (first + p - 1) / p * p); m < end; m += p) {
      composite[m - first] = true;
    }
  }
  std::uint64_t count = 0;
  for (std::uint64_t n = std::max<std::uint64_t>(first, 2); n < end; ++n) {
    count += composite[n - first] ? 0 : 1;
  }
  return count;
}

std::uint64_t count_primes_in_block(std::uint64_t block)
{
  return count_primes(block * k_block_size, (block + 1) * k_block_size);
}

std::string registration_key(const std::string& cluster, const std::string& node)
{
  return "/" + cluster + "/workers/" + node;
}

std::string registration_json(const std::string& node, const std::string& release, long pid, std::uint64_t shard)
{
  return json{{"node", node}, {"release", release}, {"pid", pid}, {"shard", shard}}.dump();
}

std::string result_key(const std::string& cluster, const std::string& node)
{
  return "/" + cluster + "/results/" + node;
}

std::string result_json(const std::string& node, std::uint64_t shard, const Progress& progress, long now,
                        const Observations& seen)
{
  json doc{{"node", node},
           {"shard", shard},
           {"blocks_done", progress.blocks_done},
           {"primes_found", progress.primes_found},
           {"last_block", nullptr},
           {"published_at", now},
           {"disk", seen.last_write},
           {"corrupt_found", seen.corrupt_found},
           {"etcd_failures", seen.etcd_failures}};
  if (progress.last_block) {
    doc["last_block"] = *progress.last_block;
  }
  return doc.dump();
}

std::optional<Progress> parse_result(const std::string& text, const std::string& node, std::uint64_t shard)
{
  const json doc = json::parse(text, nullptr, false);
  if (!doc.is_object() || doc.value("node", std::string()) != node || !is_count(doc, "shard") ||
      doc["shard"].get<std::uint64_t>() != shard || !is_count(doc, "blocks_done") || !is_count(doc, "primes_found")) {
    return std::nullopt;
  }
  Progress progress;
  progress.blocks_done = doc["blocks_done"].get<std::uint64_t>();
  progress.primes_found = doc["primes_found"].get<std::uint64_t>();
  if (is_count(doc, "last_block")) {
    progress.last_block = doc["last_block"].get<std::uint64_t>();
  }
  return progress;
}

void record_block(Progress* progress, std::uint64_t block, std::uint64_t primes)
{
  progress->blocks_done += 1;
  progress->primes_found += primes;
  progress->last_block = block;
}

std::uint64_t next_block(const Progress& progress, std::uint64_t shard, std::uint64_t shards)
{
  if (!progress.last_block) {
    return nth_block(0, shard, shards);
  }
  // The smallest block after last_block that this shard owns (also right if shards changed).
  const std::uint64_t after = *progress.last_block + 1;
  return after + (shard + shards - after % shards) % shards;
}

} // namespace worker
