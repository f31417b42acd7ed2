#include "release.hpp"

#include "membership.hpp"

#include "hash.hpp"
#include "render.hpp"

#include <algorithm>
#include <fstream>
#include <optional>
#include <sstream>

namespace deploy {
namespace {

/// Writes a rendered file: configs and ENV files may hold secrets, so the file is the
/// user's alone (0600, in a 0700 folder) before any content is written.
Result<void> write_file(const std::filesystem::path& path, const std::string& content)
{
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  fs::permissions(path.parent_path(), fs::perms::owner_all, ec);
  std::ifstream existing(path, std::ios::binary);
  if (existing) {
    std::stringstream old;
    old << existing.rdbuf();
    if (old.str() == content) {
      return {}; // keep the timestamp: nothing changed
    }
  }
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write, ec);
  if (ec) {
    return fail("cannot restrict " + path.string() + ": " + ec.message());
  }
  out << content;
  if (!out) {
    return fail("cannot write " + path.string());
  }
  return {};
}

Result<std::string> read_text(const std::filesystem::path& path)
{
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return fail("cannot read " + path.string());
  }
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

Result<ReleaseFile> render_config(const Plan& plan, const Node& node, const Service& service,
                                  const ConfigTemplate& config)
{
  CD_TRY(source, read_text(config.source));
  CD_TRY(text, expand_template(*source, plan, node, service, config.source.string()));
  ReleaseFile file{NodeLayout::release_config_dir(service.name) + "/" + config.name,
                   plan.output_dir / node.name / "etc" / service.name / config.name,
                   sha256_hex(*text),
                   {service.name}};
  CD_TRY_VOID(write_file(file.local, *text));
  return file;
}

Result<ReleaseFile> render_unit_file(const Plan& plan, const Node& node, const Service& service,
                                     const std::string& loader)
{
  CD_TRY(unit, render_unit(plan, node, service, loader));
  std::string name = NodeLayout{plan.cluster}.unit_name(service.name);
  ReleaseFile file{
      NodeLayout::release_unit(name), plan.output_dir / node.name / "units" / name, sha256_hex(*unit), {service.name}};
  CD_TRY_VOID(write_file(file.local, *unit));
  return file;
}

/// The service's ENV file, when it has ENV.
Result<std::optional<ReleaseFile>> render_env_file(const Plan& plan, const Node& node, const Service& service)
{
  CD_TRY(text, render_environment(plan, node, service));
  if (text->empty()) {
    return std::optional<ReleaseFile>{};
  }
  std::string path = NodeLayout::release_env_file(service.name);
  ReleaseFile file{path, plan.output_dir / node.name / path, sha256_hex(*text), {service.name}};
  CD_TRY_VOID(write_file(file.local, *text));
  return std::optional<ReleaseFile>{std::move(file)};
}

/// `file`'s content hash, read once per run.
Result<std::string> hash_of(const std::filesystem::path& file, ProgramCache& cache)
{
  auto known = cache.hashes.find(file);
  if (known == cache.hashes.end()) {
    CD_TRY(hash, sha256_file(file));
    known = cache.hashes.emplace(file, *hash).first;
  }
  return known->second;
}

/// `file`'s ELF needs, read once per run; nullopt for a script.
Result<std::optional<ProgramNeeds>> needs_of(const std::filesystem::path& file, ProgramCache& cache)
{
  auto known = cache.needs.find(file);
  if (known == cache.needs.end()) {
    CD_TRY(needs, read_program_needs(file));
    known = cache.needs.emplace(file, std::move(*needs)).first;
  }
  return known->second;
}

/// Adds an ELF file's needs for preflight, less the libraries the release ships and, when
/// the loader ships too (BUNDLE_LIBS ALL), less the node's loader: the shipped one runs it.
Result<void> add_needs(NodeRelease& release, const std::string& path, const std::filesystem::path& local,
                       const std::vector<BundledLibrary>& shipped, ProgramCache& cache)
{
  CD_TRY(needs, needs_of(local, cache));
  if (!*needs) {
    return {};
  }
  ReleaseProgram program{path, **needs};
  auto ships = [&](const std::string& soname) {
    return std::any_of(shipped.begin(), shipped.end(), [&](const BundledLibrary& b) { return b.soname == soname; });
  };
  std::erase_if(program.needs.libraries, [&](const LibraryNeed& library) { return ships(library.soname); });
  if (std::any_of(shipped.begin(), shipped.end(), [](const BundledLibrary& b) { return b.is_loader; })) {
    program.needs.interpreter.clear();
  }
  release.programs.push_back(std::move(program));
  return {};
}

/// What ships with the service's program (BUNDLE_LIBS), found once per run.
Result<std::vector<BundledLibrary>> shipped_with(const Service& service, ProgramCache& cache)
{
  if (service.bundle_libs == Service::Bundle::none) {
    return std::vector<BundledLibrary>{};
  }
  bool all = service.bundle_libs == Service::Bundle::all;
  auto& known = all ? cache.closures : cache.bundles;
  if (!known.count(service.program)) {
    CD_TRY(found, all ? closure_to_bundle(service.program) : libraries_to_bundle(service.program));
    known[service.program] = std::move(*found);
  }
  return known.at(service.program);
}

/// The file name of the loader that ships with the service's program (BUNDLE_LIBS ALL);
/// empty when the node's loader runs it.
std::string shipped_loader(const Service& service, const ProgramCache& cache)
{
  if (service.bundle_libs != Service::Bundle::all || !cache.closures.count(service.program)) {
    return {};
  }
  for (const auto& library : cache.closures.at(service.program)) {
    if (library.is_loader) {
      return library.soname;
    }
  }
  return {};
}

/// The service's program, and with BUNDLE_LIBS the libraries it loads (ALL: and the loader),
/// in the release's lib/<service>/. A program two services run is one file; each service
/// has its own libraries, as its unit points at them.
Result<void> add_program(NodeRelease& release, const Service& service, ProgramCache& cache)
{
  std::string where = "service " + service.name + ": ";
  std::string path = NodeLayout::release_program(service.program.filename().string());
  auto program = std::find_if(release.files.begin(), release.files.end(),
                              [&](const ReleaseFile& file) { return file.path == path; });
  if (program != release.files.end()) {
    program->services.push_back(service.name);
  } else {
    auto hash = hash_of(service.program, cache);
    if (!hash) {
      return fail(where + hash.error());
    }
    release.files.push_back(ReleaseFile{path, service.program, *hash, {service.name}});
  }
  auto shipped = shipped_with(service, cache);
  if (!shipped) {
    return fail(where + shipped.error());
  }
  for (const auto& library : *shipped) {
    std::string library_path = NodeLayout::release_library_dir(service.name) + "/" + library.soname;
    auto library_hash = hash_of(library.local, cache);
    if (!library_hash) {
      return fail(where + library_hash.error());
    }
    release.files.push_back(ReleaseFile{library_path, library.local, *library_hash, {service.name}});
    CD_TRY_VOID(add_needs(release, library_path, library.local, *shipped, cache));
  }
  auto added = add_needs(release, path, service.program, *shipped, cache);
  return added ? added : Result<void>{fail(where + added.error())};
}

/// Expands the service's commands for this node (HEALTH exec, QUORUM, LEADER), so that a
/// template error stops the deploy before any node is changed, not after.
Result<void> check_commands(const Plan& plan, const Node& node, const Service& service)
{
  std::string origin = "service " + service.name;
  if (service.health.kind == Health::Kind::exec) {
    CD_TRY_VOID(expand_command(service.health.command, plan, node, service, origin + " HEALTH"));
  }
  if (!service.quorum.empty()) {
    CD_TRY_VOID(expand_command(service.quorum, plan, node, service, origin + " QUORUM"));
  }
  if (!service.leader.empty()) {
    CD_TRY_VOID(expand_command(service.leader, plan, node, service, origin + " LEADER"));
  }
  if (!service.members.empty()) {
    CD_TRY_VOID(expand_command(service.members, plan, node, service, origin + " MEMBERS"));
  }
  const Member example{node.name, node.address}; // JOIN, LEAVE, TRANSFER also see @member@, @member_address@
  for (auto [hook, what] : {std::pair{&service.join, " JOIN"}, std::pair{&service.leave, " LEAVE"},
                            std::pair{&service.transfer, " TRANSFER"}}) {
    if (!hook->empty()) {
      CD_TRY_VOID(expand_command(with_member(*hook, example), plan, node, service, origin + what));
    }
  }
  return {};
}

} // namespace

void finish_release(NodeRelease& release)
{
  std::sort(release.files.begin(), release.files.end(),
            [](const ReleaseFile& a, const ReleaseFile& b) { return a.path < b.path; });
  release.manifest.clear();
  for (const auto& file : release.files) {
    release.manifest += file.sha256 + "  " + file.path + "\n";
  }
  release.id = sha256_hex(release.manifest).substr(0, 16);
  std::map<std::string, std::string> inputs;
  for (const auto& file : release.files) {
    for (const auto& service : file.services) {
      inputs[service] += file.sha256 + "  " + file.path + "\n";
    }
  }
  release.service_digests.clear();
  for (const auto& [service, text] : inputs) {
    release.service_digests[service] = sha256_hex(text).substr(0, 16);
  }
}

NodeRelease release_from_manifest(const Plan& plan, const Node& node, const std::map<std::string, std::string>& files)
{
  NodeLayout layout{plan.cluster};
  NodeRelease release;
  release.node = node.name;
  for (const auto& [path, sha256] : files) {
    ReleaseFile file{path, {}, sha256, {}};
    for (const Service* service : plan.services_on(node)) {
      if (path == layout.release_program(service->program.filename().string()) ||
          path.starts_with(layout.release_config_dir(service->name) + "/") ||
          path.starts_with(layout.release_library_dir(service->name) + "/") ||
          path == layout.release_unit(layout.unit_name(service->name))) {
        file.services.push_back(service->name);
      }
    }
    release.files.push_back(std::move(file));
  }
  finish_release(release);
  return release;
}

Result<NodeRelease> render_node(const Plan& plan, const Node& node, ProgramCache& cache)
{
  NodeRelease release;
  release.node = node.name;
  for (const Service* service : plan.services_on(node)) {
    CD_TRY_VOID(check_commands(plan, node, *service));
    CD_TRY_VOID(add_program(release, *service, cache));
    for (const auto& config : service->configs) {
      CD_TRY(file, render_config(plan, node, *service, config));
      release.files.push_back(std::move(*file));
    }
    CD_TRY(env, render_env_file(plan, node, *service));
    if (*env) {
      release.files.push_back(std::move(**env));
    }
    CD_TRY(unit, render_unit_file(plan, node, *service, shipped_loader(*service, cache)));
    release.files.push_back(std::move(*unit));
  }
  finish_release(release);
  return release;
}

std::map<std::string, NodeRelease> render_releases(const Plan& plan, const std::vector<const Node*>& nodes)
{
  std::map<std::string, NodeRelease> releases;
  ProgramCache cache;
  for (const Node* node : nodes) {
    releases[node->name] = render_node(plan, *node, cache).value_or_throw();
  }
  return releases;
}

std::uint64_t local_size(const ReleaseFile& file)
{
  std::error_code ec;
  auto bytes = std::filesystem::file_size(file.local, ec);
  return ec ? 0 : static_cast<std::uint64_t>(bytes);
}

bool is_program(const ReleaseFile& file)
{
  return file.path.starts_with("bin/") || file.path.starts_with("lib/");
}

std::vector<std::string> services_of(const NodeRelease& release)
{
  std::vector<std::string> services;
  for (const auto& [service, digest] : release.service_digests) {
    services.push_back(service);
  }
  return services;
}

} // namespace deploy
