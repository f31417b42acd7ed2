#include "fake_cluster.hpp"
#include "status.hpp"
#include "test_support.hpp"

using namespace deploy;
using deploy::testing::FakeCluster;

namespace {

/// The table's row of `node` and `service`, split into its columns.
std::vector<std::string> row_of(const std::string& table, const std::string& node, const std::string& service)
{
  std::istringstream lines(table);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream words(line);
    std::vector<std::string> columns;
    for (std::string word; words >> word;) {
      columns.push_back(word);
    }
    if (columns.size() > 2 && columns[0] == node && columns[1] == service) {
      return columns;
    }
  }
  return {};
}

} // namespace

TEST_CASE("status prints a row per node and service and fails when one is not running")
{
  Plan plan = testing::example_plan("status-table");
  FakeCluster fakes;
  Output deployed(Color::never);
  REQUIRE(testing::deploy_everything(plan, fakes, deployed));
  auto all = testing::everything(plan);
  std::string table;
  bool ok = false;
  {
    for (auto& [name, node] : fakes.nodes) {
      node.round_trips = 0;
    }
    testing::FakeRun run(plan, fakes, all.nodes);
    table = testing::capture_stdout([&] { ok = run_status(run.cluster, all.services); });
  }
  CHECK(ok);
  for (auto& [name, node] : fakes.nodes) {
    CHECK(node.round_trips == 1); // release, drift, faults and every unit: one exec per node
  }
  auto db = row_of(table, "server1", "db");
  REQUIRE(db.size() >= 4);
  CHECK(db[2] == "active");
  CHECK(db[3] == "(running)");
  CHECK(table.find(fakes.nodes["server1"].current) != std::string::npos);

  fakes.nodes["worker1"].active.clear();
  fakes.nodes["server2"].edited.insert("etc/db/db.conf");
  testing::FakeRun run(plan, fakes, all.nodes);
  table = testing::capture_stdout([&] { ok = run_status(run.cluster, all.services); });
  CHECK_FALSE(ok);
  auto worker = row_of(table, "worker1", "worker");
  REQUIRE(worker.size() >= 4);
  CHECK(worker[2] == "inactive");
  CHECK(table.find("drift: server2: etc/db/db.conf differs from what was deployed") != std::string::npos);
}
