#include "nodes_file.hpp"
#include "test_support.hpp"

using namespace deploy;

TEST_CASE("nodes that left the inventory are reported until they come back")
{
  Plan plan = testing::example_plan("nodes-file");
  REQUIRE(write_nodes_file(plan)->empty());
  Node gone = plan.inventory.nodes.back(); // worker1
  plan.inventory.nodes.pop_back();
  CHECK(*write_nodes_file(plan) == std::vector<std::string>{"worker1 10.0.0.11"});
  CHECK(*write_nodes_file(plan) == std::vector<std::string>{"worker1 10.0.0.11"}); // still, on the next run
  plan.inventory.nodes.push_back(gone);
  CHECK(write_nodes_file(plan)->empty());
  std::ifstream nodes(plan.output_dir / "nodes.txt");
  std::string first;
  std::getline(nodes, first);
  CHECK(first == "server1 10.0.0.1 servers");
}
