// Where an inventory comes from: a folder of `<group>.txt` files (inventory.hpp) or an Ansible
// INI file (ansible_inventory.hpp). The one place that knows both, so neither knows the other.
#pragma once

#include "error.hpp"
#include "inventory.hpp"

#include <filesystem>

namespace deploy {

/// Reads every `<group>.txt` in `path`, or, when `path` is a file, an Ansible INI inventory;
/// errors name file:line.
Result<Inventory> read_inventory(const std::filesystem::path& path);

} // namespace deploy
