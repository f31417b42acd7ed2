// Ansible interop: an Ansible INI inventory read as our inventory, and our inventory
// written as an Ansible INI inventory (`cluster-deploy inventory --export ansible`).
#pragma once

#include "error.hpp"
#include "inventory.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace deploy {

/// Parses an Ansible INI inventory. Every group with hosts of its own becomes a group
/// (hosts before any section: `ungrouped`); a host is in one group only. `ansible_host`,
/// `ansible_port`, `ansible_user` (and their `ansible_ssh_` forms, and `host:port`)
/// give address, port and user; other `ansible_*` variables are ignored; every other
/// variable (host line, `[group:vars]` of its group and the groups it is a child of,
/// `[all:vars]`; the nearer wins) becomes a template variable. Host ranges are refused.
Result<Inventory> parse_ansible_inventory(std::string_view text, const std::string& file);

/// `nodes` as an Ansible INI inventory: one section per group, `ansible_host`,
/// `ansible_port`, `ansible_user` and the template variables per host, the groups as
/// children of a group named after the cluster, and, when `ssh_config` is not empty,
/// `ansible_ssh_common_args="-F <ssh_config>"` for all hosts.
std::string ansible_ini(const std::vector<const Node*>& nodes, const std::string& cluster,
                        const std::string& ssh_config, const std::string& source);

} // namespace deploy
