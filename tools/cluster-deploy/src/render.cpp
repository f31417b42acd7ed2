#include "render.hpp"

#include "membership.hpp"

#include "hash.hpp"
#include "quote.hpp"

#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>

namespace deploy {
namespace {

/// One item of @peers:...@ or @members:...@: the pattern with {name}, {address}, {index}.
std::string peer_item(const std::string& pattern, const std::string& name, const std::string& address, int index)
{
  std::string item = replace_all(pattern, "{name}", name);
  item = replace_all(item, "{address}", address);
  return replace_all(item, "{index}", std::to_string(index));
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
    joined += (joined.empty() ? "" : ",") + peer_item(pattern, peer->name, peer->address, peer->index);
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
  if (name == "member_state") { // a member group: founded with this node (new), or joined later
    auto record = read_member_record(plan, service, node);
    return record ? record->state : std::string("new");
  }
  if (name.starts_with("members:")) { // whom this node became a member with; else its inventory group
    auto record = read_member_record(plan, service, node);
    if (!record) {
      return expand_peers(service.group + ":" + std::string(name.substr(8)), plan);
    }
    std::string joined;
    for (std::size_t i = 0; i < record->members.size(); ++i) {
      const Member& member = record->members[i];
      joined += (joined.empty() ? "" : ",") +
                peer_item(std::string(name.substr(8)), member.name, member.address, static_cast<int>(i));
    }
    return joined;
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
       << layout.unit_mark() << "\n"
       << "[Unit]\nDescription=" << plan.cluster << " " << service.name << " (ClusterDeploy)\n"
       << "After=" << after << "\nStartLimitIntervalSec=0\n\n"
       << "[Service]\nType=simple\nUser=" << layout.user() << "\nGroup=" << layout.user() << "\n"
       << "ExecStart=" << exec_start << "\n";
  std::string program = service.program.filename().string();
  if (service.bundle_libs == Service::Bundle::all && is_safe_name(program)) {
    unit << "SyslogIdentifier=" << program << "\n"; // not the loader's name
  }
  unit << "WorkingDirectory=" << layout.data_dir(service.name) << "\n"
       << "StateDirectory=" << plan.cluster << "/" << service.name << "\nStateDirectoryMode=0700\n";
  for (const auto& assignment : environment) {
    unit << "Environment=" << systemd_env_quote(assignment) << "\n";
  }
  if (!service.env.empty()) {
    unit << "EnvironmentFile=" << layout.current() << "/" << layout.release_env_file(service.name) << "\n";
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

Result<std::string> expand(std::string_view text, const Plan& plan, const Node& node, const Service& service,
                           const std::string& origin, bool for_shell)
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
      out += for_shell ? shell_quote_if_needed(*value) : *value;
    }
    pos = close + 1;
  }
  return out;
}

} // namespace

Result<std::string> expand_template(std::string_view text, const Plan& plan, const Node& node, const Service& service,
                                    const std::string& origin)
{
  return expand(text, plan, node, service, origin, false);
}

Result<std::string> expand_command(std::string_view text, const Plan& plan, const Node& node, const Service& service,
                                   const std::string& origin)
{
  return expand(text, plan, node, service, origin, true);
}

Result<std::string> render_unit(const Plan& plan, const Node& node, const Service& service, const std::string& loader)
{
  NodeLayout layout{plan.cluster};
  std::string origin = "service " + service.name;
  std::string libraries = layout.current() + "/" + layout.release_library_dir(service.name);
  std::string exec_start =
      systemd_quote(layout.current() + "/" + layout.release_program(service.program.filename().string()));
  if (service.bundle_libs == Service::Bundle::all && !loader.empty()) {
    // The shipped loader starts the program on the shipped glibc, whatever the node's is;
    // --library-path, unlike LD_LIBRARY_PATH, is not inherited by what the program runs.
    // No loader ships with a script or a static program: it starts as it is.
    exec_start = systemd_quote(libraries + "/" + loader) + " " + systemd_quote("--library-path") + " " +
                 systemd_quote(libraries) + " " + exec_start;
  }
  for (const auto& arg : service.args) {
    CD_TRY(expanded, expand_template(arg, plan, node, service, origin + " ARGS"));
    exec_start += " " + systemd_quote(*expanded);
  }
  std::vector<std::string> environment = {"CLUSTER_DEPLOY_NODE=" + node.name,
                                          "CLUSTER_DEPLOY_DATA_DIR=" + layout.data_dir(service.name)};
  if (service.bundle_libs == Service::Bundle::libraries) { // the libraries shipped with the program come first
    environment.push_back("LD_LIBRARY_PATH=" + libraries);
  }
  return unit_text(plan, node, service, exec_start, environment);
}

Result<std::string> render_environment(const Plan& plan, const Node& node, const Service& service)
{
  std::string text;
  for (const auto& [name, value] : service.env) {
    std::string origin = "service " + service.name + " ENV " + name;
    CD_TRY(expanded, expand_template(value, plan, node, service, origin));
    if (expanded->find('\n') != std::string::npos) {
      return fail(origin + ": a value cannot span lines");
    }
    std::string quoted;
    for (char c : *expanded) {
      if (c == '\\' || c == '"' || c == '$' || c == '`') {
        quoted += '\\';
      }
      quoted += c;
    }
    text += name + "=\"" + quoted + "\"\n";
  }
  return text;
}

} // namespace deploy
