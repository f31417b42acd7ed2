#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace worker {

/// What the worker reads from its `key=value` config file (templates/worker.conf.in).
struct Config {
  std::string node;
  std::string cluster = "example";    ///< key prefix "/<cluster>/..." and /opt/<cluster>/releases
  std::vector<std::string> endpoints; ///< etcd client URLs, e.g. http://10.0.0.1:2379
  std::uint64_t shard = 0;
  std::uint64_t shards = 1;
  std::string data_dir; ///< where the `registered` marker goes; empty: env or cwd
};

/// Parses `key=value` lines ('#' comments and blank lines allowed, spaces around key and value
/// trimmed). Requires node, endpoints, shard and shards, with shard < shards.
/// Returns false and sets *err to a one-line reason naming the line or key.
bool parse_config(const std::string& text, Config* out, std::string* err);

/// Splits a comma list, trimming spaces and dropping empty items.
std::vector<std::string> split_list(const std::string& text);

/// Reads a whole file; false (and *err) if it cannot be opened.
bool read_file(const std::string& path, std::string* out, std::string* err);

} // namespace worker
