// The inventory: one file per group (servers.txt, workers.txt), one node a line:
//   name:address [port=N] [user=U] [fan_out=off] [key=value ...]   # comment
// or an Ansible INI inventory file (ansible_inventory.hpp; inventory_source.hpp reads either).
#pragma once

#include "error.hpp"

#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace deploy {

struct Node {
  std::string name;
  std::string address;
  std::string group;
  int index = 0; ///< position in its group, from 0
  int port = 0;  ///< 0: from ssh_config or 22
  std::string user;
  bool fan_out = true; ///< false (fan_out=off): gets every file from the controller, passes none on (fan_out.hpp)
  std::string image;   ///< image=<Debian release>: what a local cluster node boots (empty: bookworm); else unused
  std::map<std::string, std::string> vars; ///< free key=value fields for templates
  std::string origin;                      ///< "file:line", for messages
};

struct Inventory {
  std::vector<Node> nodes;         ///< in group order, then file order
  std::vector<std::string> groups; ///< sorted group names

  const Node* find(std::string_view name) const;
  std::vector<const Node*> group(std::string_view group) const;
};

/// Parses one group file's text. `file` names it in error messages.
Result<std::vector<Node>> parse_group(std::string_view text, const std::string& group, const std::string& file);

/// Reads every `<group>.txt` in the folder `dir`; errors name file:line. (read_inventory in
/// inventory_source.hpp also takes an Ansible INI file.)
Result<Inventory> read_group_files(const std::filesystem::path& dir);

/// Sets one `key=value` field of a node: port, user, fan_out, or a template variable
/// (checked: names, ports, no built-in template names, not twice).
Result<void> set_node_field(Node& node, const std::string& key, const std::string& value);

/// Adds a node, refusing a second node of the same name or on the same address and port.
Result<void> add_node(Inventory& inventory, Node node);

/// Checks an address: IPv4, [IPv6], or a host name / ssh_config alias.
bool is_valid_address(std::string_view address);

/// An address as a resolver reads it: [v6] without its brackets, others as they are.
std::string bare_address(const std::string& address);

// The name rules (docs/using.md "Names"). cmake/ClusterDeploy.cmake applies the same when
// configuring, and the local cluster tool reads inventories through this helper.

/// Node and group names: 1-63 characters of A-Z a-z 0-9 . _ -, the first a letter or digit.
bool is_node_or_group_name(std::string_view name);
inline constexpr const char* k_node_or_group_name_rule =
    "1-63 characters of A-Z a-z 0-9 . _ -, the first a letter or digit";

/// Cluster and service names: 1-32 characters of a-z 0-9 -, the first a letter.
bool is_cluster_or_service_name(std::string_view name);
inline constexpr const char* k_cluster_or_service_name_rule = "1-32 characters of a-z 0-9 -, the first a letter";

/// One line per node, "name address group file:line", in inventory order: what
/// `cluster-deploy inventory --inventory DIR` prints for the local cluster tool.
std::string node_lines(const Inventory& inventory);

} // namespace deploy
