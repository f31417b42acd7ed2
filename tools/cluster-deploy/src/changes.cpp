#include "changes.hpp"

#include <algorithm>
#include <filesystem>

namespace deploy {
namespace {

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
  changes.bytes_to_send += local_size(file);
}

} // namespace

ChangeSet compute_changes(const NodeRelease& wanted, const RemoteState& remote)
{
  ChangeSet changes;
  changes.release_changed = wanted.id != remote.current_id;
  changes.release_on_node = remote.releases.count(wanted.id) != 0;
  for (const auto& file : wanted.files) {
    if (auto name = NodeLayout::unit_of_release_path(file.path); !name.empty()) {
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
    auto wanted_unit = std::find_if(wanted.files.begin(), wanted.files.end(), [&](const ReleaseFile& file) {
      return file.path == NodeLayout::release_unit(name);
    });
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
