#include "inventory_source.hpp"

#include "ansible_inventory.hpp"

#include <fstream>
#include <sstream>

namespace deploy {

Result<Inventory> read_inventory(const std::filesystem::path& path)
{
  std::error_code ec;
  if (std::filesystem::is_regular_file(path, ec)) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    if (in.bad()) {
      return fail(path.string() + ": cannot read this inventory file");
    }
    return parse_ansible_inventory(text.str(), path.string());
  }
  if (!std::filesystem::is_directory(path, ec)) {
    return fail("inventory " + path.string() + " is neither a folder nor an Ansible inventory file");
  }
  return read_group_files(path);
}

} // namespace deploy
