#include "manifest.hpp"

#include <algorithm>
#include <filesystem>
#include <sstream>

namespace deploy {
namespace {

std::string unit_file_name(const std::string& path)
{
  return path.substr(path.find('/') + 1);
}

void add_file_change(ChangeSet& changes, const ReleaseFile& file, const RemoteState& remote)
{
  if (changes.release_on_node) {
    return;
  }
  for (const auto& [path, sha] : remote.files) {
    if (sha == file.sha256) {
      changes.reuse.push_back(ChangeSet::Reuse{path, file.path, sha});
      return;
    }
  }
  changes.send.push_back(&file);
  std::error_code ec;
  auto size = std::filesystem::file_size(file.local, ec);
  changes.bytes_to_send += ec ? 0 : size;
}

} // namespace

RemoteState parse_remote_state(std::string_view text)
{
  RemoteState state;
  std::istringstream in{std::string(text)};
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string kind, first, second;
    words >> kind >> first >> second;
    if (kind == "current") {
      state.current_id = first;
    } else if (kind == "release" && !first.empty()) {
      state.releases.insert(first);
    } else if (kind == "file" && !second.empty()) {
      state.files[second] = first;
    } else if (kind == "unit" && !second.empty()) {
      state.units[second] = first;
    } else if (kind == "started" && !second.empty()) {
      state.started[first] = second;
    }
  }
  return state;
}

ChangeSet compute_changes(const NodeRelease& wanted, const RemoteState& remote)
{
  ChangeSet changes;
  changes.release_changed = wanted.id != remote.current_id;
  changes.release_on_node = remote.releases.count(wanted.id) != 0;
  for (const auto& file : wanted.files) {
    if (file.path.starts_with("units/")) {
      auto name = unit_file_name(file.path);
      auto installed = remote.units.find(name);
      if (installed == remote.units.end() || installed->second != file.sha256) {
        changes.units_to_install.push_back(name);
        changes.restart.insert(file.services.begin(), file.services.end()); // back to what we deploy
      }
    }
    if (changes.release_changed) {
      add_file_change(changes, file, remote);
    }
  }
  for (const auto& [name, sha] : remote.units) {
    auto wanted_unit = std::find_if(wanted.files.begin(), wanted.files.end(),
                                    [&](const ReleaseFile& file) { return file.path == "units/" + name; });
    if (wanted_unit == wanted.files.end()) {
      changes.units_to_remove.push_back(name);
    }
  }
  for (const auto& [service, digest] : wanted.service_digests) {
    auto started = remote.started.find(service);
    if (started == remote.started.end() || started->second != digest) {
      changes.restart.insert(service);
    }
  }
  return changes;
}

} // namespace deploy
