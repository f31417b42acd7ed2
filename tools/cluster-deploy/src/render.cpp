#include "render.hpp"

#include "hash.hpp"
#include "quote.hpp"

#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>

namespace deploy {
namespace {

std::string replace_all(std::string text, std::string_view from, std::string_view to)
{
  for (size_t pos = text.find(from); pos != std::string::npos; pos = text.find(from, pos + to.size())) {
    text.replace(pos, from.size(), to);
  }
  return text;
}

Result<std::string> expand_peers(std::string_view spec, const Plan& plan)
{
  auto colon = spec.find(':');
  if (colon == std::string_view::npos) {
    return fail("peers needs peers:<group>:<pattern>");
  }
  std::string group(spec.substr(0, colon));
  std::string pattern(spec.substr(colon + 1));
  auto members = plan.inventory.group(group);
  if (members.empty()) {
    return fail("peers: group '" + group + "' has no nodes");
  }
  std::string joined;
  for (const Node* peer : members) {
    std::string item = replace_all(pattern, "{name}", peer->name);
    item = replace_all(item, "{address}", peer->address);
    item = replace_all(item, "{index}", std::to_string(peer->index));
    joined += (joined.empty() ? "" : ",") + item;
  }
  return joined;
}

Result<std::string> lookup(std::string_view name, const Plan& plan, const Node& node, const Service& service)
{
  NodeLayout layout{plan.cluster};
  const std::map<std::string_view, std::string> fixed = {
      {"cluster", plan.cluster},
      {"service", service.name},
      {"node", node.name},
      {"address", node.address},
      {"index", std::to_string(node.index)},
      {"group", node.group},
      {"bootstrap", service.bootstrap && node.index == 0 ? "true" : "false"},
      {"data_dir", layout.data_dir(service.name)},
      {"etc", layout.etc_dir(service.name)},
  };
  if (auto it = fixed.find(name); it != fixed.end()) {
    return it->second;
  }
  if (name.starts_with("peers:")) {
    return expand_peers(name.substr(6), plan);
  }
  if (name.starts_with("count:")) {
    auto members = plan.inventory.group(name.substr(6));
    if (members.empty()) {
      return fail("count: group '" + std::string(name.substr(6)) + "' has no nodes");
    }
    return std::to_string(members.size());
  }
  if (auto it = node.vars.find(std::string(name)); it != node.vars.end()) {
    return it->second;
  }
  return fail("unknown template variable @" + std::string(name) + "@ (node " + node.name + ")");
}

int line_of(std::string_view text, size_t pos)
{
  return 1 + static_cast<int>(std::count(text.begin(), text.begin() + static_cast<long>(pos), '\n'));
}

std::string unit_text(const Plan& plan, const Node& node, const Service& service, const std::string& exec_start,
                      const std::vector<std::string>& environment)
{
  NodeLayout layout{plan.cluster};
  std::string after = "network.target";
  for (const auto& dependency : service.after) {
    if (plan.find_service(dependency)->group == node.group) {
      after += " " + layout.unit_name(dependency); // same node: systemd orders them at boot too
    }
  }
  std::ostringstream unit;
  unit << "# Written by ClusterDeploy for " << node.name << "; changes on the node are overwritten.\n"
       << "# cluster-deploy: cluster=" << plan.cluster << "\n"
       << "[Unit]\nDescription=" << plan.cluster << " " << service.name << " (ClusterDeploy)\n"
       << "After=" << after << "\nStartLimitIntervalSec=0\n\n"
       << "[Service]\nType=simple\nUser=" << layout.user() << "\nGroup=" << layout.user() << "\n"
       << "ExecStart=" << exec_start << "\n"
       << "WorkingDirectory=" << layout.data_dir(service.name) << "\n"
       << "StateDirectory=" << plan.cluster << "/" << service.name << "\nStateDirectoryMode=0700\n";
  for (const auto& assignment : environment) {
    unit << "Environment=" << systemd_env_quote(assignment) << "\n";
  }
  for (const auto& [setting, value] : service.limits) {
    unit << setting << "=" << value << "\n";
  }
  unit << "Restart=always\nRestartSec=1\n"
       << "NoNewPrivileges=yes\nProtectSystem=strict\nProtectHome=yes\nPrivateTmp=yes\nPrivateDevices=yes\n"
       << "ProtectKernelTunables=yes\nProtectKernelModules=yes\nProtectControlGroups=yes\n"
       << "RestrictSUIDSGID=yes\nLockPersonality=yes\n"
       << "ReadWritePaths=" << layout.data_dir(service.name) << "\n\n"
       << "[Install]\nWantedBy=multi-user.target\n";
  return unit.str();
}

Result<void> write_file(const std::filesystem::path& path, const std::string& content)
{
  std::error_code ec;
  std::filesystem::create_directories(path.parent_path(), ec);
  std::ifstream existing(path, std::ios::binary);
  if (existing) {
    std::stringstream old;
    old << existing.rdbuf();
    if (old.str() == content) {
      return {}; // keep the timestamp: nothing changed
    }
  }
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
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
  auto source = read_text(config.source);
  if (!source) {
    return fail(source.error());
  }
  auto text = expand_template(*source, plan, node, service, config.source.string());
  if (!text) {
    return fail(text.error());
  }
  ReleaseFile file{"etc/" + service.name + "/" + config.name,
                   plan.output_dir / node.name / "etc" / service.name / config.name,
                   sha256_hex(*text),
                   {service.name}};
  if (auto written = write_file(file.local, *text); !written) {
    return fail(written.error());
  }
  return file;
}

Result<ReleaseFile> render_unit_file(const Plan& plan, const Node& node, const Service& service)
{
  auto unit = render_unit(plan, node, service);
  if (!unit) {
    return fail(unit.error());
  }
  std::string name = NodeLayout{plan.cluster}.unit_name(service.name);
  ReleaseFile file{"units/" + name, plan.output_dir / node.name / "units" / name, sha256_hex(*unit), {service.name}};
  if (auto written = write_file(file.local, *unit); !written) {
    return fail(written.error());
  }
  return file;
}

Result<void> add_program(std::vector<ReleaseFile>& files, const Service& service, ProgramHashes& hashes)
{
  std::string path = "bin/" + service.program.filename().string();
  for (auto& file : files) {
    if (file.path == path) {
      file.services.push_back(service.name);
      return {};
    }
  }
  auto known = hashes.find(service.program);
  if (known == hashes.end()) {
    auto hash = sha256_file(service.program);
    if (!hash) {
      return fail("service " + service.name + ": " + hash.error());
    }
    known = hashes.emplace(service.program, *hash).first;
  }
  files.push_back(ReleaseFile{path, service.program, known->second, {service.name}});
  return {};
}

} // namespace

Result<std::string> expand_template(std::string_view text, const Plan& plan, const Node& node, const Service& service,
                                    const std::string& origin)
{
  std::string out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t open = text.find('@', pos);
    if (open == std::string_view::npos) {
      out.append(text.substr(pos));
      break;
    }
    out.append(text.substr(pos, open - pos));
    size_t close = text.find('@', open + 1);
    size_t newline = text.find('\n', open + 1);
    if (close == std::string_view::npos || close > newline) {
      return fail(origin + ":" + std::to_string(line_of(text, open)) + ": unmatched '@' (write @@ for a literal @)");
    }
    auto name = text.substr(open + 1, close - open - 1);
    if (name.empty()) {
      out += '@';
    } else {
      auto value = lookup(name, plan, node, service);
      if (!value) {
        return fail(origin + ":" + std::to_string(line_of(text, open)) + ": " + value.error());
      }
      out += *value;
    }
    pos = close + 1;
  }
  return out;
}

Result<std::string> render_unit(const Plan& plan, const Node& node, const Service& service)
{
  NodeLayout layout{plan.cluster};
  std::string origin = "service " + service.name;
  std::string exec_start = systemd_quote(layout.current() + "/bin/" + service.program.filename().string());
  for (const auto& arg : service.args) {
    auto expanded = expand_template(arg, plan, node, service, origin + " ARGS");
    if (!expanded) {
      return fail(expanded.error());
    }
    exec_start += " " + systemd_quote(*expanded);
  }
  std::vector<std::string> environment = {"CLUSTER_DEPLOY_NODE=" + node.name,
                                          "CLUSTER_DEPLOY_DATA_DIR=" + layout.data_dir(service.name)};
  for (const auto& [name, value] : service.env) {
    auto expanded = expand_template(value, plan, node, service, origin + " ENV " + name);
    if (!expanded) {
      return fail(expanded.error());
    }
    environment.push_back(name + "=" + *expanded);
  }
  return unit_text(plan, node, service, exec_start, environment);
}

void seal_release(NodeRelease& release)
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
      if (path == "bin/" + service->program.filename().string() || path.starts_with("etc/" + service->name + "/") ||
          path == "units/" + layout.unit_name(service->name)) {
        file.services.push_back(service->name);
      }
    }
    release.files.push_back(std::move(file));
  }
  seal_release(release);
  return release;
}

Result<NodeRelease> render_node(const Plan& plan, const Node& node, ProgramHashes& hashes)
{
  NodeRelease release;
  release.node = node.name;
  for (const Service* service : plan.services_on(node)) {
    if (auto added = add_program(release.files, *service, hashes); !added) {
      return fail(added.error());
    }
    for (const auto& config : service->configs) {
      auto file = render_config(plan, node, *service, config);
      if (!file) {
        return fail(file.error());
      }
      release.files.push_back(std::move(*file));
    }
    auto unit = render_unit_file(plan, node, *service);
    if (!unit) {
      return fail(unit.error());
    }
    release.files.push_back(std::move(*unit));
  }
  seal_release(release);
  return release;
}

} // namespace deploy
