#include "fake_cluster.hpp"
#include "logs.hpp"
#include "test_support.hpp"

using namespace deploy;

TEST_CASE("logs from several nodes are merged by time and each line names its node")
{
  auto merged = merge_by_time({{"n1", "2026-11-26T10:00:02.000000+0000 n1 b"},
                               {"n2", "2026-11-26T10:00:01.000000+0000 n2 a"},
                               {"n1", "2026-11-26T10:00:03.000000+0000 n1 c"}});
  CHECK(merged == std::vector<std::string>{"n2 | 2026-11-26T10:00:01.000000+0000 n2 a",
                                           "n1 | 2026-11-26T10:00:02.000000+0000 n1 b",
                                           "n1 | 2026-11-26T10:00:03.000000+0000 n1 c"});
}

TEST_CASE("logs asks every node for its group's services and prints their lines merged by time")
{
  Plan plan = testing::example_plan("logs-run");
  testing::FakeCluster fakes;
  fakes.nodes["server1"].journal = {"2026-11-26T10:00:03.000000+0000 s1 db: third"};
  fakes.nodes["worker1"].journal = {"-- No entries --", "2026-11-26T10:00:01.000000+0000 w1 worker: first"};
  fakes.nodes["server2"].journal = {"2026-11-26T10:00:02.000000+0000 s2 db: second"};
  auto all = testing::everything(plan);
  testing::FakeRun run(plan, fakes, all.nodes);
  bool ok = false;
  std::string text = testing::capture_stdout([&] {
    ok = run_logs(run.cluster, all.services, LogOptions{20, "-1h", false});
  });
  CHECK(ok);
  CHECK(text == "worker1 | 2026-11-26T10:00:01.000000+0000 w1 worker: first\n"
                "server2 | 2026-11-26T10:00:02.000000+0000 s2 db: second\n"
                "server1 | 2026-11-26T10:00:03.000000+0000 s1 db: third\n");
  REQUIRE(fakes.nodes["worker1"].journal_requests.size() == 1);
  CHECK(fakes.nodes["worker1"].journal_requests[0] == std::vector<std::string>{"demo", "20", "-1h", "once", "worker"});
  CHECK(fakes.nodes["server1"].journal_requests[0] == std::vector<std::string>{"demo", "20", "-1h", "once", "db"});
}
