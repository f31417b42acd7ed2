// What a node should have: the files of its release (programs, rendered configs and
// units), the release id derived from their content, and what each service runs from.
#pragma once

#include "error.hpp"
#include "layout.hpp"
#include "plan.hpp"
#include "program_needs.hpp"

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace deploy {

/// One file of a release, relative to the release folder.
struct ReleaseFile {
  std::string path;            ///< bin/<program>, etc/<service>/<name>, units/<unit>
  std::filesystem::path local; ///< where its content is on the controller
  std::string sha256;
  std::vector<std::string> services; ///< the services restarted when it changes
};

/// An ELF file of a release and what it needs from the node (checked before any change).
struct ReleaseProgram {
  std::string path;   ///< bin/<program> or lib/<service>/<library>
  ProgramNeeds needs; ///< without the libraries the release ships itself
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
  std::vector<ReleaseProgram> programs; ///< its ELF files, for preflight
};

/// The size of a file's content on the controller (0 when it cannot be read: sending it then
/// fails and says why). The one place a release file's size is read.
std::uint64_t local_size(const ReleaseFile& file);

/// A program or a library (bin/, lib/): large, resumed when cut off, may be passed on between
/// nodes; everything else (configs, scripts, units) is small and may hold secrets.
bool is_program(const ReleaseFile& file);

/// The services of a release (those that run on its node), by name.
std::vector<std::string> services_of(const NodeRelease& release);

/// What is read once per run from the controller's programs and libraries, whatever the
/// number of nodes that get them: hashes, ELF needs, the libraries BUNDLE_LIBS ships.
struct ProgramCache {
  std::map<std::filesystem::path, std::string> hashes;
  std::map<std::filesystem::path, std::optional<ProgramNeeds>> needs;
  std::map<std::filesystem::path, std::vector<BundledLibrary>> bundles;  ///< BUNDLE_LIBS
  std::map<std::filesystem::path, std::vector<BundledLibrary>> closures; ///< BUNDLE_LIBS ALL (the loader last)
};

/// Renders `node`'s configs and units into <plan.output_dir>/<node>/ and hashes
/// every file of its release (programs through `cache`).
Result<NodeRelease> render_node(const Plan& plan, const Node& node, ProgramCache& cache);

/// Sorts the files by path and derives the manifest text, the release id and the
/// service digests from them.
void finish_release(NodeRelease& release);

/// A release already on `node`, rebuilt from its manifest (path -> sha256): same id and
/// service digests as when it was rendered, no local files (it is never sent).
NodeRelease release_from_manifest(const Plan& plan, const Node& node, const std::map<std::string, std::string>& files);

/// Renders every node of `nodes` (no network): a template or plan error here
/// stops the command before any node is touched (throws Error, exit code 2).
std::map<std::string, NodeRelease> render_releases(const Plan& plan, const std::vector<const Node*>& nodes);

} // namespace deploy
