#include "inventory.hpp"

#include "quote.hpp"

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

namespace deploy {
namespace {

std::vector<std::string> split_words(std::string_view line)
{
  std::vector<std::string> words;
  std::istringstream in{std::string(line)};
  std::string word;
  while (in >> word) {
    words.push_back(word);
  }
  return words;
}

bool is_ipv4(std::string_view s)
{
  int parts = 0;
  size_t pos = 0;
  while (pos <= s.size()) {
    size_t dot = s.find('.', pos);
    auto part = s.substr(pos, dot == std::string_view::npos ? std::string_view::npos : dot - pos);
    if (part.empty() || part.size() > 3 ||
        !std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
        std::stoi(std::string(part)) > 255) {
      return false;
    }
    ++parts;
    if (dot == std::string_view::npos) {
      break;
    }
    pos = dot + 1;
  }
  return parts == 4;
}

bool looks_numeric(std::string_view s)
{
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || c == '.'; });
}

bool is_hostname(std::string_view s)
{
  if (s.empty() || s.size() > 253 || s.front() == '-' || s.front() == '.') {
    return false;
  }
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
           c == '_';
  });
}

bool is_in(char c, std::string_view chars)
{
  return chars.find(c) != std::string_view::npos;
}

/// A name of 1-`max` characters of `first` then `rest`.
bool is_name(std::string_view s, size_t max, std::string_view first, std::string_view rest)
{
  return !s.empty() && s.size() <= max && is_in(s.front(), first) &&
         std::all_of(s.begin(), s.end(), [&](char c) { return is_in(c, rest); });
}

bool is_var_name(std::string_view s)
{
  if (s.empty() || (s.front() >= '0' && s.front() <= '9')) {
    return false;
  }
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  });
}

/// Template names the helper defines itself (render.cpp): a node variable may not hide them.
bool is_reserved(std::string_view key)
{
  static const char* const k_reserved[] = {"cluster", "service",   "node",     "address", "index",
                                           "group",   "bootstrap", "data_dir", "etc"};
  return std::any_of(std::begin(k_reserved), std::end(k_reserved), [&](const char* name) { return key == name; });
}

/// A comment starts with '#' at the start of the line or after a space or tab; a '#' inside
/// a value (token=ab#c) is part of it.
std::string strip_comment(std::string_view line)
{
  for (size_t i = 0; i < line.size(); ++i) {
    if (line[i] == '#' && (i == 0 || line[i - 1] == ' ' || line[i - 1] == '\t')) {
      return std::string(line.substr(0, i));
    }
  }
  return std::string(line);
}

Result<void> set_node_field_impl(Node& node, const std::string& key, const std::string& value)
{
  if (!is_var_name(key)) {
    return fail("bad variable name '" + key + "' (use letters, digits and _)");
  }
  if (key == "port") {
    bool digits = !value.empty() && value.size() <= 5 &&
                  std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (!digits || std::stoi(value) < 1 || std::stoi(value) > 65535) {
      return fail("bad port '" + value + "' (1-65535)");
    }
    node.port = std::stoi(value);
  } else if (key == "user") {
    if (!is_safe_name(value)) {
      return fail("bad user '" + value + "'");
    }
    node.user = value;
  } else if (key == "image") {
    if (value != "bullseye" && value != "bookworm" && value != "trixie") {
      return fail("bad image '" + value + "' (the Debian release a local cluster node boots: bullseye, bookworm or trixie)");
    }
    node.image = value;
  } else if (key == "fan_out") {
    if (value != "off" && value != "auto") {
      return fail("bad fan_out '" + value + "' (off: this node gets its files from the controller and passes none on; auto)");
    }
    node.fan_out = value == "auto";
  } else if (is_reserved(key)) {
    return fail("variable '" + key + "' is a built-in template name; choose another");
  } else if (node.vars.count(key) != 0) {
    return fail("variable '" + key + "' given twice");
  } else {
    node.vars[key] = value;
  }
  return {};
}

Result<void> apply_field(Node& node, const std::string& field)
{
  auto eq = field.find('=');
  if (eq == std::string::npos || eq == 0) {
    return fail("expected key=value, got '" + field + "'");
  }
  return set_node_field_impl(node, field.substr(0, eq), field.substr(eq + 1));
}

Result<Node> parse_line(const std::vector<std::string>& words, const std::string& group)
{
  const std::string& head = words.front();
  auto colon = head.find(':');
  if (colon == std::string::npos) {
    return fail("expected name:address, got '" + head + "'");
  }
  Node node;
  node.name = head.substr(0, colon);
  node.address = head.substr(colon + 1);
  node.group = group;
  if (!is_node_or_group_name(node.name)) {
    return fail("bad node name '" + node.name + "' (" + k_node_or_group_name_rule + ")");
  }
  if (!is_valid_address(node.address)) {
    return fail("bad address '" + node.address + "' for node " + node.name);
  }
  for (size_t i = 1; i < words.size(); ++i) {
    if (auto applied = apply_field(node, words[i]); !applied) {
      return fail(applied.error());
    }
  }
  return node;
}

const Node* same_host(const Inventory& inventory, const Node& node)
{
  for (const auto& other : inventory.nodes) {
    auto effective = [](int port) { return port == 0 ? 22 : port; }; // 0: the default, 22
    if (other.address == node.address && effective(other.port) == effective(node.port)) {
      return &other;
    }
  }
  return nullptr;
}

} // namespace

Result<void> set_node_field(Node& node, const std::string& key, const std::string& value)
{
  return set_node_field_impl(node, key, value);
}

Result<void> add_node(Inventory& inventory, Node node)
{
  // Also the check for nodes and groups of an Ansible inventory.
  if (!is_node_or_group_name(node.name)) {
    return fail(node.origin + ": bad node name '" + node.name + "' (" + k_node_or_group_name_rule + ")");
  }
  if (!is_node_or_group_name(node.group)) {
    return fail(node.origin + ": bad group name '" + node.group + "' (" + k_node_or_group_name_rule + ")");
  }
  if (const Node* other = inventory.find(node.name)) {
    return fail(node.origin + ": node " + node.name + " is already defined at " + other->origin);
  }
  if (const Node* other = same_host(inventory, node)) {
    return fail(node.origin + ": node " + node.name + " has the address of " + other->name + " (" + other->origin +
                "); one node, one group");
  }
  inventory.nodes.push_back(std::move(node));
  return {};
}

bool is_node_or_group_name(std::string_view name)
{
  static constexpr std::string_view k_alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  static const std::string k_rest = std::string(k_alnum) + "._-";
  return is_name(name, 63, k_alnum, k_rest);
}

bool is_cluster_or_service_name(std::string_view name)
{
  return is_name(name, 32, "abcdefghijklmnopqrstuvwxyz", "abcdefghijklmnopqrstuvwxyz0123456789-");
}

std::string node_lines(const Inventory& inventory)
{
  std::string lines;
  for (const auto& node : inventory.nodes) {
    lines += node.name + ' ' + node.address + ' ' + node.group + ' ' + (node.image.empty() ? "bookworm" : node.image) +
             ' ' + node.origin + '\n';
  }
  return lines;
}

bool is_valid_address(std::string_view address)
{
  if (address.size() > 2 && address.front() == '[' && address.back() == ']') {
    auto inner = address.substr(1, address.size() - 2);
    return std::all_of(inner.begin(), inner.end(), [](char c) {
      return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' || c == '.';
    });
  }
  if (looks_numeric(address)) {
    return is_ipv4(address);
  }
  return is_hostname(address);
}

const Node* Inventory::find(std::string_view name) const
{
  for (const auto& node : nodes) {
    if (node.name == name) {
      return &node;
    }
  }
  return nullptr;
}

std::vector<const Node*> Inventory::group(std::string_view group) const
{
  std::vector<const Node*> members;
  for (const auto& node : nodes) {
    if (node.group == group) {
      members.push_back(&node);
    }
  }
  return members;
}

Result<std::vector<Node>> parse_group(std::string_view text, const std::string& group, const std::string& file)
{
  std::vector<Node> nodes;
  std::istringstream in{std::string(text)};
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    std::string origin = file + ":" + std::to_string(number);
    if (auto control = control_character_in(line); !control.empty()) {
      return fail(origin + ": control character " + control);
    }
    auto words = split_words(strip_comment(line));
    if (words.empty()) {
      continue;
    }
    auto node = parse_line(words, group);
    if (!node) {
      return fail(origin + ": " + node.error());
    }
    node->origin = origin;
    node->index = static_cast<int>(nodes.size());
    nodes.push_back(std::move(*node));
  }
  return nodes;
}

Result<Inventory> read_group_files(const std::filesystem::path& dir)
{
  std::error_code ec;
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() == ".txt") { // a <group>.txt that cannot be read is an error, not empty
      files.push_back(entry.path());
    }
  }
  std::sort(files.begin(), files.end());
  if (files.empty()) {
    return fail("inventory " + dir.string() + " has no <group>.txt file");
  }
  Inventory inventory;
  for (const auto& file : files) {
    std::ifstream in(file);
    if (!std::filesystem::is_regular_file(file, ec) || !in.is_open()) {
      return fail(file.string() + ": cannot read this group file");
    }
    std::stringstream text;
    text << in.rdbuf();
    if (in.bad()) {
      return fail(file.string() + ": cannot read this group file");
    }
    std::string group = file.stem().string();
    if (!is_node_or_group_name(group)) {
      return fail(file.string() + ": bad group name '" + group + "' (" + k_node_or_group_name_rule + ")");
    }
    auto nodes = parse_group(text.str(), group, file.string());
    if (!nodes) {
      return fail(nodes.error());
    }
    for (auto& node : *nodes) {
      if (auto added = add_node(inventory, std::move(node)); !added) {
        return fail(added.error());
      }
    }
    inventory.groups.push_back(group);
  }
  return inventory;
}

std::string bare_address(const std::string& address)
{
  if (address.size() > 2 && address.front() == '[' && address.back() == ']') {
    return address.substr(1, address.size() - 2);
  }
  return address;
}

} // namespace deploy
