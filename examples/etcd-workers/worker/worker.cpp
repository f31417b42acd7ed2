#include "worker.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "checkpoint.hpp"
#include "config.hpp"
#include "etcd_client.hpp"
#include "stop.hpp"
#include "work.hpp"

namespace worker {
namespace {

using std::chrono::milliseconds;

constexpr milliseconds k_block_pace{1000};
constexpr milliseconds k_max_backoff{5000};
constexpr std::uint64_t k_progress_every = 3; // blocks between progress lines in the journal
// The registration lives on an etcd lease renewed once a block: a worker that stops renewing
// (crashed, paused, cut off) disappears from /<cluster>/workers/ after this long.
constexpr long k_registration_ttl_seconds = 10;

/// One line on stdout (journald keeps it), flushed at once.
void log_line(const std::string& line)
{
  std::cout << "example-worker: " << line << std::endl;
}

/// The config path from `--config <file>` or `--config=<file>`; empty on a usage error.
std::string config_path_from_args(int argc, char** argv)
{
  std::string path;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--config" && i + 1 < argc) {
      path = argv[++i];
    } else if (arg.rfind("--config=", 0) == 0) {
      path = arg.substr(9);
    } else {
      return "";
    }
  }
  return path;
}

bool load_config(const std::string& path, Config* config, std::vector<Endpoint>* endpoints, std::string* err)
{
  std::string text;
  if (!read_file(path, &text, err) || !parse_config(text, config, err)) {
    return false;
  }
  for (const auto& url : config->endpoints) {
    auto endpoint = parse_endpoint(url);
    if (!endpoint) {
      *err = "endpoints: not an http://host:port URL: '" + url + "'";
      return false;
    }
    endpoints->push_back(*endpoint);
  }
  return true;
}

// The program file this code runs from, as the kernel resolved it (symlinks such as
// /opt/<cluster>/current followed): the mapping of /proc/self/maps that holds this very
// function. Not /proc/self/exe, which names the loader when the program is started through
// one (BUNDLE_LIBS ALL: ld-linux-x86-64.so.2 --library-path ... <program>).
std::string own_executable()
{
  const auto here = reinterpret_cast<std::uintptr_t>(&own_executable);
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    std::uintptr_t from = 0, to = 0;
    char dash = 0;
    std::istringstream fields(line);
    fields >> std::hex >> from >> dash >> to;
    auto slash = line.find('/');
    if (fields && dash == '-' && from <= here && here < to && slash != std::string::npos) {
      return line.substr(slash);
    }
  }
  std::error_code ec;
  const auto path = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? "" : path.string();
}

std::filesystem::path data_dir(const Config& config)
{
  if (!config.data_dir.empty()) {
    return config.data_dir;
  }
  const char* env = std::getenv("CLUSTER_DEPLOY_DATA_DIR");
  return env != nullptr && *env != '\0' ? env : ".";
}

/// Writes the marker atomically (temp file + rename), so a health check never sees half a file.
bool write_marker(const std::filesystem::path& marker, const std::string& content)
{
  const auto temp = marker.string() + ".tmp";
  {
    std::ofstream file(temp, std::ios::trunc);
    file << content << '\n';
    if (!file.flush()) {
      return false;
    }
  }
  std::error_code ec;
  std::filesystem::rename(temp, marker, ec);
  return !ec;
}

/// Puts the registration on a new lease (its id goes to *lease), retrying with bounded exponential
/// backoff until it succeeds or a stop comes.
bool register_worker(EtcdClient& client, const Config& config, const std::string& registration, std::string* lease)
{
  milliseconds backoff{500};
  const std::string key = registration_key(config.cluster, config.node);
  while (!stop_requested()) {
    std::string err;
    if (client.grant_lease(k_registration_ttl_seconds, lease, &err) && client.put(key, registration, &err, *lease)) {
      log_line("registered " + key + " = " + registration + " (lease " + *lease + ")");
      return true;
    }
    log_line("registration failed (retry in " + std::to_string(backoff.count()) + " ms): " + err);
    sleep_unless_stopped(backoff);
    backoff = std::min(backoff * 2, k_max_backoff);
  }
  return false;
}

/// The progress this node published before it was restarted, or a fresh start.
Progress resume_progress(EtcdClient& client, const Config& config)
{
  std::optional<std::string> previous;
  std::string err;
  if (!client.get(result_key(config.cluster, config.node), &previous, &err)) {
    log_line("could not read previous result, starting from scratch: " + err);
    return {};
  }
  const auto progress = previous ? parse_result(*previous, config.node, config.shard) : std::nullopt;
  if (progress) {
    log_line("resuming after " + std::to_string(progress->blocks_done) + " blocks");
  }
  return progress.value_or(Progress{});
}

/// Renews the registration's lease; registers again when it expired (the worker was paused or cut
/// off for longer than its TTL, so etcd dropped the registration).
void keep_registered(EtcdClient& client, const Config& config, const std::string& registration, std::string* lease)
{
  long ttl = 0;
  std::string err;
  if (!client.keep_alive(*lease, &ttl, &err)) {
    log_line("lease renewal failed: " + err);
  } else if (ttl <= 0) {
    log_line("registration expired (lease " + *lease + " gone): registering again");
    register_worker(client, config, registration, lease);
  }
}

/// Checks the checkpoint file, then writes this block's result into it; says in the journal
/// when it finds it damaged and when a write starts or stops failing.
void keep_checkpoint(const std::filesystem::path& path, const std::string& result, Observations* seen)
{
  const std::string found = verify_checkpoint_file(path);
  if (found.rfind("corrupt", 0) == 0) {
    seen->corrupt_found += 1;
    log_line("checkpoint " + path.string() + " is " + found + ": writing it again");
  }
  const std::string outcome = write_checkpoint_file(path, result);
  if (outcome != seen->last_write) {
    log_line(outcome == "ok" ? "checkpoint written again" : "cannot write checkpoint " + path.string() + ": " + outcome);
  }
  seen->last_write = outcome;
}

/// Counts primes block after block, keeping a checkpoint and publishing after each, about one
/// block per second.
void work_loop(EtcdClient& client, const Config& config, const std::string& registration, std::string lease,
               Progress progress)
{
  const std::string key = result_key(config.cluster, config.node);
  const auto checkpoint = data_dir(config) / "checkpoint";
  Observations seen;
  while (!stop_requested()) {
    const auto started = std::chrono::steady_clock::now();
    keep_registered(client, config, registration, &lease);
    const std::uint64_t block = next_block(progress, config.shard, config.shards);
    record_block(&progress, block, count_primes_in_block(block));
    const long now = static_cast<long>(std::time(nullptr));
    keep_checkpoint(checkpoint, result_json(config.node, config.shard, progress, now), &seen);
    seen.etcd_failures = client.failures();
    std::string err;
    if (!client.put(key, result_json(config.node, config.shard, progress, now, seen), &err)) {
      log_line("publish of block " + std::to_string(block) + " failed: " + err);
    } else if (progress.blocks_done % k_progress_every == 0) {
      log_line("published " + std::to_string(progress.blocks_done) + " blocks, " +
               std::to_string(progress.primes_found) + " primes");
    }
    const auto spent = std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - started);
    sleep_unless_stopped(std::max(k_block_pace - spent, milliseconds(0)));
  }
}

int serve(const Config& config, const std::vector<Endpoint>& endpoints)
{
  const auto marker = data_dir(config) / "registered";
  std::error_code ec;
  std::filesystem::remove(marker, ec); // a marker from an earlier run must not pass this run's health check
  const std::string release = release_from_path(own_executable(), config.cluster);
  log_line("node " + config.node + ", release " + release + ", shard " + std::to_string(config.shard) + "/" +
           std::to_string(config.shards));
  EtcdClient client(endpoints);
  const std::string registration = registration_json(config.node, release, static_cast<long>(::getpid()), config.shard);
  std::string lease;
  if (register_worker(client, config, registration, &lease)) {
    if (!write_marker(marker, registration)) {
      log_line("error: cannot write " + marker.string());
      return 1;
    }
    work_loop(client, config, registration, lease, resume_progress(client, config));
  }
  log_line("stopping");
  return 0;
}

} // namespace

int run(int argc, char** argv)
{
  const std::string path = config_path_from_args(argc, argv);
  if (path.empty()) {
    std::cerr << "usage: example-worker --config <file>\n";
    return 2;
  }
  Config config;
  std::vector<Endpoint> endpoints;
  std::string err;
  if (!load_config(path, &config, &endpoints, &err)) {
    std::cerr << "example-worker: error: " << path << ": " << err << "\n";
    return 2;
  }
  install_stop_handlers();
  return serve(config, endpoints);
}

} // namespace worker
