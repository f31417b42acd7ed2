// Rendering: templates (@var@) and systemd units per node, and the set of files
// that make a node's release.
#pragma once

#include "error.hpp"
#include "plan.hpp"

#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace deploy {

/// Where things live on a node.
struct NodeLayout {
  std::string cluster;

  std::string root() const { return "/opt/" + cluster; }
  std::string current() const { return root() + "/current"; }
  std::string unit_name(const std::string& service) const { return cluster + "-" + service + ".service"; }
  std::string data_dir(const std::string& service) const { return "/var/lib/" + cluster + "/" + service; }
  std::string etc_dir(const std::string& service) const { return current() + "/etc/" + service; }
  std::string user() const { return cluster; }
};

/// Expands @name@ placeholders for `service` on `node`. `origin` names the text in
/// errors (a file name; the line is added). `@@` is a literal '@'.
Result<std::string> expand_template(std::string_view text, const Plan& plan, const Node& node, const Service& service,
                                    const std::string& origin);

/// The systemd unit for `service` on `node`, with hardening and ExecStart through `current`.
Result<std::string> render_unit(const Plan& plan, const Node& node, const Service& service);

/// One file of a release, relative to the release folder.
struct ReleaseFile {
  std::string path;            ///< bin/<program>, etc/<service>/<name>, units/<unit>
  std::filesystem::path local; ///< where its content is on this machine
  std::string sha256;
  std::vector<std::string> services; ///< the services restarted when it changes
};

/// What a node should run: its files and the release id derived from them.
struct NodeRelease {
  std::string node;
  std::vector<ReleaseFile> files; ///< sorted by path
  std::string manifest;           ///< "sha256  path" lines, as sha256sum -c reads them
  std::string id;                 ///< content hash of the manifest: same files, same id
  /// Per service, a hash of its files (program, configs, unit): what a running
  /// instance was started from. A service restarts when its digest changes.
  std::map<std::string, std::string> service_digests;
};

/// Program hashes by path, so a binary shared by many nodes is read once per run.
using ProgramHashes = std::map<std::filesystem::path, std::string>;

/// Renders `node`'s configs and units into <plan.output_dir>/<node>/ and hashes
/// every file of its release (programs through `hashes`).
Result<NodeRelease> render_node(const Plan& plan, const Node& node, ProgramHashes& hashes);

/// Builds the manifest text and release id from files (sorted by path).
void seal_release(NodeRelease& release);

/// A release already on `node`, rebuilt from its manifest (path -> sha256): same id and
/// service digests as when it was rendered, no local files (it is never sent).
NodeRelease release_from_manifest(const Plan& plan, const Node& node, const std::map<std::string, std::string>& files);

} // namespace deploy
