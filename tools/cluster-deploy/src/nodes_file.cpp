#include "nodes_file.hpp"

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

namespace deploy {
namespace {

/// "name address" of each line of a node list (nodes.txt or nodes-left.txt).
std::vector<std::pair<std::string, std::string>> read_nodes(const std::filesystem::path& path)
{
  std::vector<std::pair<std::string, std::string>> nodes;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    std::istringstream words(line);
    std::string name, address;
    if (words >> name >> address) {
      nodes.emplace_back(name, address);
    }
  }
  return nodes;
}

} // namespace

Result<std::vector<std::string>> write_nodes_file(const Plan& plan)
{
  std::error_code ec;
  std::filesystem::create_directories(plan.output_dir, ec);
  auto nodes_path = plan.output_dir / "nodes.txt";
  auto left_path = plan.output_dir / "nodes-left.txt";
  std::set<std::string> now;
  for (const auto& node : plan.inventory.nodes) {
    now.insert(node.name);
  }
  std::vector<std::string> left;
  std::set<std::string> seen;
  auto earlier = read_nodes(left_path);
  auto last = read_nodes(nodes_path);
  earlier.insert(earlier.end(), last.begin(), last.end());
  for (const auto& [name, address] : earlier) {
    if (!now.count(name) && seen.insert(name).second) {
      left.push_back(name + " " + address);
    }
  }
  std::ofstream out(nodes_path, std::ios::trunc);
  for (const auto& node : plan.inventory.nodes) {
    out << node.name << ' ' << node.address << ' ' << node.group << '\n';
  }
  std::ofstream left_out(left_path, std::ios::trunc);
  for (const auto& node : left) {
    left_out << node << '\n';
  }
  if (!out || !left_out) {
    return fail("cannot write " + nodes_path.string() + " or " + left_path.string());
  }
  return left;
}

} // namespace deploy
