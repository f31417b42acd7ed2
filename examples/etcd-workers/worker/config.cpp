#include "config.hpp"

#include <algorithm>
#include <charconv>
#include <fstream>
#include <sstream>

namespace worker {
namespace {

std::string trim(const std::string& text)
{
  const char* space = " \t\r";
  const auto first = text.find_first_not_of(space);
  if (first == std::string::npos) {
    return "";
  }
  const auto last = text.find_last_not_of(space);
  return text.substr(first, last - first + 1);
}

bool parse_uint(const std::string& text, std::uint64_t* out)
{
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, *out);
  return !text.empty() && ec == std::errc() && ptr == end;
}

bool apply_key(const std::string& key, const std::string& value, Config* out, std::string* err)
{
  if (key == "node") {
    out->node = value;
  } else if (key == "cluster") {
    out->cluster = value;
  } else if (key == "endpoints") {
    out->endpoints = split_list(value);
  } else if (key == "data_dir") {
    out->data_dir = value;
  } else if (key == "shard" || key == "shards") {
    if (!parse_uint(value, key == "shard" ? &out->shard : &out->shards)) {
      *err = key + ": not a non-negative integer: '" + value + "'";
      return false;
    }
  } else {
    *err = "unknown key '" + key + "'";
    return false;
  }
  return true;
}

bool check_complete(const Config& config, const std::vector<std::string>& seen, std::string* err)
{
  for (const char* key : {"node", "endpoints", "shard", "shards"}) {
    if (std::find(seen.begin(), seen.end(), key) == seen.end()) {
      *err = std::string("missing key '") + key + "'";
      return false;
    }
  }
  if (config.node.empty() || config.endpoints.empty() || config.cluster.empty()) {
    *err = "node, cluster and endpoints must not be empty";
    return false;
  }
  if (config.shards == 0 || config.shard >= config.shards) {
    *err = "shard must be in [0, shards) and shards > 0";
    return false;
  }
  return true;
}

} // namespace

std::vector<std::string> split_list(const std::string& text)
{
  std::vector<std::string> items;
  std::stringstream stream(text);
  std::string item;
  while (std::getline(stream, item, ',')) {
    item = trim(item);
    if (!item.empty()) {
      items.push_back(item);
    }
  }
  return items;
}

bool parse_config(const std::string& text, Config* out, std::string* err)
{
  std::stringstream stream(text);
  std::string line;
  std::vector<std::string> seen;
  for (int number = 1; std::getline(stream, line); ++number) {
    line = trim(line);
    if (line.empty() || line[0] == '#') {
      continue;
    }
    const auto equals = line.find('=');
    if (equals == std::string::npos) {
      *err = "line " + std::to_string(number) + ": expected key=value";
      return false;
    }
    const std::string key = trim(line.substr(0, equals));
    if (!apply_key(key, trim(line.substr(equals + 1)), out, err)) {
      *err = "line " + std::to_string(number) + ": " + *err;
      return false;
    }
    seen.push_back(key);
  }
  return check_complete(*out, seen, err);
}

bool read_file(const std::string& path, std::string* out, std::string* err)
{
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    *err = "cannot open '" + path + "'";
    return false;
  }
  std::stringstream buffer;
  buffer << file.rdbuf();
  *out = buffer.str();
  return true;
}

} // namespace worker
