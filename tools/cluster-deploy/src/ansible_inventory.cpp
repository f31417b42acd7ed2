#include "ansible_inventory.hpp"

#include "quote.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <sstream>

namespace deploy {
namespace {

using Vars = std::vector<std::pair<std::string, std::string>>;

/// Splits like a POSIX shell (as Ansible does): whitespace separates words, quotes
/// group, a backslash in double quotes escapes; `#` starting a word starts a comment.
std::vector<std::string> split_ini_words(std::string_view line)
{
  std::vector<std::string> words;
  std::string word;
  bool in_word = false, escaped = false;
  char quote = 0;
  for (char c : line) {
    if (escaped) {
      word += c;
      escaped = false;
    } else if (quote == '"' && c == '\\') {
      escaped = true;
    } else if (quote) {
      if (c == quote) {
        quote = 0;
      } else {
        word += c;
      }
    } else if (c == '"' || c == '\'') {
      quote = c;
      in_word = true;
    } else if (c == ' ' || c == '\t' || c == '\r') {
      if (in_word) {
        words.push_back(word);
        word.clear();
        in_word = false;
      }
    } else if (c == '#' && !in_word) {
      break;
    } else {
      word += c;
      in_word = true;
    }
  }
  if (in_word) {
    words.push_back(word);
  }
  return words;
}

std::string trim(std::string_view text)
{
  auto begin = text.find_first_not_of(" \t\r");
  auto end = text.find_last_not_of(" \t\r");
  return begin == std::string_view::npos ? std::string() : std::string(text.substr(begin, end - begin + 1));
}

std::string unquote(const std::string& value)
{
  if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') && value.back() == value.front()) {
    return value.substr(1, value.size() - 2);
  }
  return value;
}

struct RawHost {
  std::string name;
  std::string port; ///< from host:port
  std::string group;
  std::string origin;
  Vars vars;
};

struct Parsed {
  std::vector<RawHost> hosts;
  std::map<std::string, Vars> group_vars;
  std::map<std::string, std::set<std::string>> parents; ///< group -> groups it is a child of
};

/// `group`'s ancestors (through :children), farthest first, `all` first of all.
std::vector<std::string> ancestors(const Parsed& parsed, const std::string& group)
{
  std::map<std::string, int> depth;
  std::vector<std::string> frontier = {group};
  for (int level = 1; !frontier.empty(); ++level) {
    std::vector<std::string> next;
    for (const auto& g : frontier) {
      auto it = parsed.parents.find(g);
      if (it == parsed.parents.end()) {
        continue;
      }
      for (const auto& parent : it->second) {
        if (parent != group && depth.emplace(parent, level).second) {
          next.push_back(parent);
        }
      }
    }
    frontier = next;
  }
  std::vector<std::string> order;
  for (const auto& [name, level] : depth) {
    order.push_back(name);
  }
  std::stable_sort(order.begin(), order.end(), [&](const auto& a, const auto& b) { return depth[a] > depth[b]; });
  order.insert(order.begin(), "all");
  return order;
}

/// A host line of a [group] section: `name[:port] [key=value ...]`.
Result<RawHost> parse_host_line(const std::vector<std::string>& words, const std::string& group,
                                const std::string& origin)
{
  RawHost host{words.front(), "", group, origin, {}};
  if (host.name.find('[') != std::string::npos) {
    return fail(origin + ": host ranges such as '" + host.name + "' are not supported; list the hosts");
  }
  if (auto colon = host.name.find(':'); colon != std::string::npos) {
    host.port = host.name.substr(colon + 1);
    host.name = host.name.substr(0, colon);
  }
  if (group == "all") {
    return fail(origin + ": put host " + host.name + " in a group ([all] cannot hold hosts of a ClusterDeploy inventory)");
  }
  for (size_t i = 1; i < words.size(); ++i) {
    auto eq = words[i].find('=');
    if (eq == std::string::npos || eq == 0) {
      return fail(origin + ": expected key=value, got '" + words[i] + "'");
    }
    host.vars.emplace_back(words[i].substr(0, eq), words[i].substr(eq + 1));
  }
  return host;
}

Result<Parsed> parse_sections(std::string_view text, const std::string& file)
{
  Parsed parsed;
  std::map<std::string, std::string> host_origin;
  std::string group = "ungrouped", kind = "hosts";
  std::istringstream in{std::string(text)};
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    std::string origin = file + ":" + std::to_string(number);
    std::string stripped = trim(line);
    if (stripped.empty() || stripped.front() == '#' || stripped.front() == ';') {
      continue;
    }
    if (stripped.front() == '[' && stripped.back() == ']') {
      std::string header = stripped.substr(1, stripped.size() - 2);
      auto colon = header.find(':');
      group = header.substr(0, colon);
      kind = colon == std::string::npos ? "hosts" : header.substr(colon + 1);
      if (kind != "hosts" && kind != "vars" && kind != "children") {
        return fail(origin + ": unknown section kind '" + kind + "' (hosts, :vars or :children)");
      }
      if (!is_safe_name(group)) {
        return fail(origin + ": bad group name '" + group + "'");
      }
      continue;
    }
    if (kind == "vars") {
      auto eq = stripped.find('=');
      if (eq == std::string::npos) {
        return fail(origin + ": expected key=value in [" + group + ":vars]");
      }
      parsed.group_vars[group].emplace_back(trim(stripped.substr(0, eq)), unquote(trim(stripped.substr(eq + 1))));
      continue;
    }
    auto words = split_ini_words(stripped);
    if (words.empty()) {
      continue;
    }
    if (kind == "children") {
      parsed.parents[words.front()].insert(group);
      continue;
    }
    CD_TRY(host, parse_host_line(words, group, origin));
    if (auto seen = host_origin.find(host->name); seen != host_origin.end()) {
      return fail(origin + ": host " + host->name + " is already listed at " + seen->second +
                  "; a ClusterDeploy node belongs to one group");
    }
    host_origin[host->name] = origin;
    parsed.hosts.push_back(std::move(*host));
  }
  return parsed;
}

Result<Node> make_node(const Parsed& parsed, const RawHost& host)
{
  std::map<std::string, std::string> vars; // nearer definitions override farther ones
  for (const auto& group : ancestors(parsed, host.group)) {
    if (auto it = parsed.group_vars.find(group); it != parsed.group_vars.end()) {
      for (const auto& [key, value] : it->second) {
        vars[key] = value;
      }
    }
  }
  if (auto it = parsed.group_vars.find(host.group); it != parsed.group_vars.end()) {
    for (const auto& [key, value] : it->second) {
      vars[key] = value;
    }
  }
  if (!host.port.empty()) {
    vars["ansible_port"] = host.port;
  }
  for (const auto& [key, value] : host.vars) {
    vars[key] = value;
  }
  Node node;
  node.name = host.name;
  node.group = host.group;
  node.origin = host.origin;
  if (!is_safe_name(node.name)) {
    return fail("bad host name '" + node.name + "' (use A-Z a-z 0-9 . _ -)");
  }
  auto pick = [&](const char* a, const char* b) {
    return vars.count(a) ? vars.at(a) : vars.count(b) ? vars.at(b) : std::string();
  };
  node.address = pick("ansible_host", "ansible_ssh_host");
  if (node.address.empty()) {
    node.address = node.name;
  }
  if (node.address.find(':') != std::string::npos && node.address.front() != '[') {
    node.address = "[" + node.address + "]"; // IPv6
  }
  if (!is_valid_address(node.address)) {
    return fail("bad address '" + node.address + "' for host " + node.name);
  }
  for (const auto& [key, value] : std::map<std::string, std::string>{
           {"port", pick("ansible_port", "ansible_ssh_port")}, {"user", pick("ansible_user", "ansible_ssh_user")}}) {
    if (!value.empty()) {
      CD_TRY_VOID(set_node_field(node, key, value));
    }
  }
  for (const auto& [key, value] : vars) {
    if (key.starts_with("ansible_")) {
      continue; // connection settings: ssh_config's job
    }
    CD_TRY_VOID(set_node_field(node, key, value));
  }
  return node;
}

/// A value as Ansible's INI parser reads it back as the same string.
std::string ini_value(const std::string& value)
{
  bool plain = !value.empty() && std::all_of(value.begin(), value.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || std::string_view("._:/@%+-,").find(c) != std::string::npos;
  });
  if (plain) {
    return value;
  }
  std::string quoted = "\"";
  for (char c : value) {
    if (c == '"' || c == '\\') {
      quoted += '\\';
    }
    quoted += c;
  }
  return quoted + "\"";
}

} // namespace

Result<Inventory> parse_ansible_inventory(std::string_view text, const std::string& file)
{
  CD_TRY(parsed, parse_sections(text, file));
  std::map<std::string, std::vector<Node>> by_group;
  for (const auto& host : parsed->hosts) {
    auto node = make_node(*parsed, host);
    if (!node) {
      return fail(host.origin + ": " + node.error());
    }
    node->index = static_cast<int>(by_group[host.group].size());
    by_group[host.group].push_back(std::move(*node));
  }
  if (by_group.empty()) {
    return fail("inventory " + file + " lists no host");
  }
  Inventory inventory;
  for (auto& [group, nodes] : by_group) { // sorted by group name, like <group>.txt files
    inventory.groups.push_back(group);
    for (auto& node : nodes) {
      CD_TRY_VOID(add_node(inventory, std::move(node)));
    }
  }
  return inventory;
}

std::string ansible_ini(const std::vector<const Node*>& nodes, const std::string& cluster,
                        const std::string& ssh_config, const std::string& source)
{
  std::ostringstream out;
  out << "# Ansible inventory of the ClusterDeploy cluster '" << cluster << "' (from " << source << ").\n"
      << "# Written by `cluster-deploy inventory --export ansible`; check it with\n"
      << "#   ansible-inventory -i <this file> --list\n";
  std::vector<std::string> groups;
  for (const Node* node : nodes) {
    if (std::find(groups.begin(), groups.end(), node->group) == groups.end()) {
      groups.push_back(node->group);
    }
  }
  for (const auto& group : groups) {
    out << "\n[" << group << "]\n";
    for (const Node* node : nodes) {
      if (node->group != group) {
        continue;
      }
      std::string address = node->address;
      if (address.size() > 2 && address.front() == '[') {
        address = address.substr(1, address.size() - 2);
      }
      out << node->name << " ansible_host=" << ini_value(address);
      if (node->port > 0) {
        out << " ansible_port=" << node->port;
      }
      if (!node->user.empty()) {
        out << " ansible_user=" << ini_value(node->user);
      }
      if (!node->image.empty()) {
        out << " image=" << node->image;
      }
      if (!node->fan_out) {
        out << " fan_out=off";
      }
      for (const auto& [key, value] : node->vars) {
        out << " " << key << "=" << ini_value(value);
      }
      out << "\n";
    }
  }
  std::string parent = cluster;
  std::replace(parent.begin(), parent.end(), '-', '_');
  if (std::find(groups.begin(), groups.end(), parent) == groups.end()) {
    out << "\n[" << parent << ":children]\n";
    for (const auto& group : groups) {
      out << group << "\n";
    }
  }
  if (!ssh_config.empty()) {
    out << "\n[all:vars]\nansible_ssh_common_args=" << ini_value("-F " + shell_quote(ssh_config)) << "\n";
  }
  return out.str();
}

} // namespace deploy
