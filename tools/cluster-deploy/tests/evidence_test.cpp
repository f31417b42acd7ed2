#include "audit.hpp"
#include "collect.hpp"
#include "evidence.hpp"
#include "fake_cluster.hpp"
#include "test_support.hpp"
#include "timeline.hpp"

#include <fstream>

using namespace deploy;

namespace {

// Lines as journalctl -o json prints them on the nodes (systemd 247 and 257), trimmed to the
// fields collect.sh asks for.
const char* k_started =
    R"({"__REALTIME_TIMESTAMP":"1796328000100000","SYSLOG_IDENTIFIER":"systemd","_PID":"1","PRIORITY":"6",)"
    R"("UNIT":"demo-db.service","_SYSTEMD_UNIT":"init.scope","MESSAGE_ID":"39f53479d3a045ac8e11786248231fbf",)"
    R"("MESSAGE":"Started demo db (ClusterDeploy)."})";
const char* k_killed = // systemd 247 sets no MESSAGE_ID on a process's exit
    R"({"__REALTIME_TIMESTAMP":"1796328004000000","SYSLOG_IDENTIFIER":"systemd","_PID":"1","PRIORITY":"5",)"
    R"("UNIT":"demo-db.service","MESSAGE":"demo-db.service: Main process exited, code=killed, status=9/KILL"})";
const char* k_db_line =
    R"({"__REALTIME_TIMESTAMP":"1796328002000000","SYSLOG_IDENTIFIER":"db","_PID":"280","PRIORITY":"3",)"
    R"("_SYSTEMD_UNIT":"demo-db.service","MESSAGE":"lost leader <b>"})";
const char* k_leader =
    R"({"__REALTIME_TIMESTAMP":"1796328006000000","SYSLOG_IDENTIFIER":"db","_PID":"281","PRIORITY":"6",)"
    R"("_SYSTEMD_UNIT":"demo-db.service","MESSAGE":"raft: 29508c became leader at term 10"})";
std::string fault_line(const char* at, const char* text)
{
  return std::string(R"({"__REALTIME_TIMESTAMP":")") + at + R"(","SYSLOG_IDENTIFIER":"cluster-deploy-demo",)" +
         R"("_PID":"462","PRIORITY":"5","MESSAGE":")" + text + "\"}";
}

std::string node_output(const std::vector<std::string>& journal)
{
  std::string text = "== journal\n";
  for (const auto& line : journal) {
    text += line + "\n";
  }
  return text + "\n== current\nabc123\n== status\n● demo-db.service - demo db\n     Active: active (running)\n"
                "== kernel\n(no kernel lines)\n== cores\n(systemd-coredump is not installed)\n";
}

Evidence two_nodes()
{
  Evidence ev;
  ev.cluster = "demo";
  ev.test = "example.partition";
  ev.result = "failed (exit 1)";
  ev.since = 1796327999;
  ev.until = 1796328010;
  ev.nodes.resize(2);
  ev.nodes[0].name = "server1";
  ev.nodes[0].group = "servers";
  parse_node_evidence(node_output({k_started, fault_line("1796328001000000", "fault f17 partition for 60s: 10.0.0.2"),
                                   k_db_line, k_killed, fault_line("1796328008000000", "healed f17 partition")}),
                      1 << 20, ev.nodes[0]);
  ev.nodes[1].name = "server2";
  ev.nodes[1].group = "servers";
  parse_node_evidence(node_output({fault_line("1796328000500000", "healed f9 pause"),
                                   fault_line("1796328003000000", "fault f18 kill: demo-db.service"), k_leader}),
                      1 << 20, ev.nodes[1]);
  find_faults_and_events(ev);
  return ev;
}

} // namespace

TEST_CASE("evidence: collect.sh's sections are read into the node's part")
{
  NodeEvidence node;
  parse_node_evidence(node_output({k_started, k_db_line}), 1 << 20, node);
  REQUIRE(node.journal.size() == 2);
  CHECK(node.journal[0].ident == "systemd");
  CHECK(node.journal[0].unit == "demo-db.service");
  CHECK(node.journal[1].time == Approx(1796328002.0));
  CHECK(node.journal[1].priority == 3);
  CHECK(node.journal[1].message == "lost leader <b>");
  CHECK(node.current == "abc123");
  CHECK(node.status.find("active (running)") != std::string::npos);
  CHECK(node.kernel == "(no kernel lines)\n");
  CHECK(node.cores == "(systemd-coredump is not installed)\n");
  CHECK_FALSE(node.journal_truncated);
}

TEST_CASE("evidence: a journal cut by the byte cap is marked, its broken last line dropped")
{
  std::string cut = std::string(k_db_line).substr(0, 40);
  NodeEvidence node;
  parse_node_evidence(node_output({k_started, cut}), std::string(k_started).size() + 10, node);
  CHECK(node.journal.size() == 1);
  CHECK(node.journal_truncated);
  CHECK(node.journal_error.empty());
}

TEST_CASE("evidence: journalctl's complaint is kept, not taken for entries")
{
  NodeEvidence node;
  parse_node_evidence("== journal\nNo journal files were opened due to insufficient permissions.\n== current\n-\n",
                      1 << 20, node);
  CHECK(node.journal.empty());
  CHECK(node.journal_error == "No journal files were opened due to insufficient permissions.\n");
  CHECK(node.current == "-");
}

TEST_CASE("evidence: faults are paired with their heal, kills are instant, earlier faults are marked")
{
  Evidence ev = two_nodes();
  REQUIRE(ev.faults.size() == 3);
  CHECK(ev.faults[0].node == "server2"); // healed in the window, applied before it
  CHECK(ev.faults[0].id == "f9");
  CHECK(ev.faults[0].start == Approx(ev.since));
  CHECK(ev.faults[1].node == "server1");
  CHECK(ev.faults[1].kind == "partition");
  CHECK(ev.faults[1].detail == "10.0.0.2");
  CHECK(ev.faults[1].start == Approx(1796328001.0));
  REQUIRE(ev.faults[1].healed);
  CHECK(*ev.faults[1].healed == Approx(1796328008.0));
  CHECK(ev.faults[2].kind == "kill");
  CHECK(ev.faults[2].healed == ev.faults[2].start);
}

TEST_CASE("evidence: systemd's lines and a Raft library's become service events")
{
  Evidence ev = two_nodes();
  std::vector<std::string> seen;
  for (const auto& e : ev.events) {
    seen.push_back(e.node + " " + e.what);
  }
  CHECK(seen == std::vector<std::string>{"server1 started", "server1 crashed", "server2 became leader"});
}

TEST_CASE("evidence: a member that joined or left its group is an event of the node that said so")
{
  Evidence ev;
  ev.cluster = "demo";
  ev.nodes.resize(1);
  ev.nodes[0].name = "server2";
  parse_node_evidence(node_output({fault_line("1796328003000000", "member db server4 left"),
                                   fault_line("1796328005000000", "member db server5 joined"),
                                   fault_line("1796328006000000", "member db server5 was here")}),
                      1 << 20, ev.nodes[0]);
  find_faults_and_events(ev);
  REQUIRE(ev.events.size() == 2);
  CHECK(ev.events[0].what == "member server4 left");
  CHECK(ev.events[0].unit == "db");
  CHECK(ev.events[1].what == "member server5 joined");
  CHECK(ev.events[1].time == Approx(1796328005.0));
  CHECK(ev.faults.empty());
  CHECK_THAT(timeline_html(ev), Catch::Contains("event member"));
}

TEST_CASE("evidence: the summary names the test, the result, the faults and where to look")
{
  Evidence ev = two_nodes();
  ev.test_output = "fault-partition: cut off server1\nfault-partition: FAIL: write 3 failed\n";
  std::string text = evidence_summary(ev);
  CHECK(text.starts_with("test: example.partition\nresult: failed (exit 1)\n"));
  CHECK(text.find("  fault-partition: FAIL: write 3 failed\n") != std::string::npos);
  CHECK(text.find("  server1  partition f17  ") != std::string::npos);
  CHECK(text.find("server1  demo-db.service crashed") != std::string::npos);
  CHECK(text.find("timeline.html") != std::string::npos);
}

TEST_CASE("timeline: a row per node, the faults, events and operations, escaped, nothing from the network")
{
  Evidence ev = two_nodes();
  int skipped = 0;
  auto dir = testing::scratch_dir("timeline");
  std::ofstream(dir / "history.jsonl") << R"({"process":"client","op":"put k","start":1796328001.5,"end":1796328001.7,"result":"ok"})"
                                       << "\nnot json\n"
                                       << R"({"process":"client","op":"put j","start":1796328002.0,"result":"unknown"})"
                                       << "\n";
  ev.history = read_history(dir / "history.jsonl", skipped);
  CHECK(skipped == 1);
  REQUIRE(ev.history.size() == 2);
  CHECK(ev.history[1].end == ev.history[1].start);
  std::string html = timeline_html(ev);
  CHECK(html.find("data-node=\"server1\"") != std::string::npos);
  CHECK(html.find("data-node=\"server2\"") != std::string::npos);
  CHECK(html.find("class=\"fault partition\"") != std::string::npos);
  CHECK(html.find("class=\"event crashed\"") != std::string::npos);
  CHECK(html.find("class=\"event leader\"") != std::string::npos);
  CHECK(html.find("class=\"op ok\"") != std::string::npos);
  CHECK(html.find("class=\"op unknown\"") != std::string::npos);
  CHECK(html.find("lost leader &lt;b&gt;") != std::string::npos); // an error line, escaped
  CHECK(html.find("<b>") == std::string::npos);
  CHECK(html.find("default-src 'none'") != std::string::npos);
  CHECK(html.find("http:") == std::string::npos);
  CHECK(html.find("https:") == std::string::npos);
}

TEST_CASE("evidence: the folder holds every file, readable by this user alone")
{
  Evidence ev = two_nodes();
  auto dir = testing::scratch_dir("evidence") / "out";
  auto files = write_evidence(ev, dir);
  REQUIRE(files);
  CHECK(files->front() == dir / "summary.txt");
  for (const char* name : {"summary.txt", "faults.jsonl", "runs.jsonl", "test-output.txt",
                           "nodes/server1/journal.txt", "nodes/server1/status.txt", "nodes/server2/current"}) {
    INFO(name);
    CHECK(std::filesystem::exists(dir / name));
  }
  auto perms = std::filesystem::status(dir / "nodes/server1/journal.txt").permissions();
  CHECK((perms & (std::filesystem::perms::group_all | std::filesystem::perms::others_all)) ==
        std::filesystem::perms::none);
  std::ifstream faults(dir / "faults.jsonl");
  std::string first;
  std::getline(faults, first);
  CHECK(first.find("\"node\":\"server2\"") != std::string::npos);
  std::ifstream journal(dir / "nodes/server1/journal.txt");
  std::string line;
  std::getline(journal, line);
  CHECK(line == "2026-12-03T20:00:00.100Z systemd[1]: Started demo db (ClusterDeploy).");
}

TEST_CASE("evidence: each run of the window brings its steps; an id that is not a plain name is not a path")
{
  Evidence ev = two_nodes();
  ev.runs = {{"r1", "deploy", 100, 110, 0, "{\"run\":\"r1\"}"}, {"../r2", "deploy", 100, 110, 0, ""}};
  ev.run_steps = {"{\"node\":\"server1\",\"step\":\"taking the lock\"}\n", "stolen\n"};
  auto dir = testing::scratch_dir("evidence-steps") / "out";
  REQUIRE(write_evidence(ev, dir));
  std::ifstream steps(dir / "runs" / "r1.jsonl");
  std::string line;
  std::getline(steps, line);
  CHECK(line == "{\"node\":\"server1\",\"step\":\"taking the lock\"}");
  CHECK_FALSE(std::filesystem::exists(dir / "r2.jsonl"));
  CHECK(std::distance(std::filesystem::directory_iterator(dir / "runs"), std::filesystem::directory_iterator()) == 1);
}

TEST_CASE("evidence: runs are read when they overlap the window, appended one a line")
{
  auto file = testing::scratch_dir("runs") / "runs.jsonl";
  append_run(file, {"r1", "deploy", 100, 110, 0, ""});
  append_run(file, {"r2", "rollback", 200, 230, 1, ""});
  auto runs = read_runs(file, 105, 150);
  REQUIRE(runs.size() == 1);
  CHECK(runs[0].command == "deploy");
  CHECK(read_runs(file, 0, 300).size() == 2);
}

TEST_CASE("collect: a large cluster is sampled: every Raft member, then the other groups in turn")
{
  Plan plan = testing::example_plan("sample");
  std::vector<Node> many;
  for (int i = 0; i < 103; ++i) {
    Node n;
    n.name = (i < 3 ? "server" : "worker") + std::to_string(i);
    n.group = i < 3 ? "servers" : "workers";
    many.push_back(n);
  }
  std::vector<const Node*> nodes;
  for (const auto& n : many) {
    nodes.push_back(&n);
  }
  for (auto& service : plan.services) {
    if (service.group == "servers") {
      service.quorum = "check"; // db is a Raft-like group
    }
  }
  std::vector<std::string> left_out;
  auto chosen = sample_nodes(plan, nodes, 40, left_out);
  CHECK(chosen.size() == 40);
  CHECK(chosen[0]->name == "server0");
  CHECK(chosen[2]->name == "server2");
  CHECK(left_out.size() == 63);
  CHECK(left_out.front() == "worker40");
  std::vector<std::string> none;
  CHECK(sample_nodes(plan, std::vector<const Node*>(nodes.begin(), nodes.begin() + 10), 40, none).size() == 10);
  CHECK(none.empty());
}

TEST_CASE("collect: --since and --until take epoch seconds, an age or a UTC time")
{
  CHECK(*parse_time("1796328000", 0) == Approx(1796328000));
  CHECK(*parse_time("@1796328000.5", 0) == Approx(1796328000.5));
  CHECK(*parse_time("-10m", 1000) == Approx(400));
  CHECK(*parse_time("-30s", 1000) == Approx(970));
  CHECK(*parse_time("2026-12-03T20:00:00Z", 0) == Approx(1796328000));
  CHECK_FALSE(parse_time("yesterday", 0));
  CHECK_FALSE(parse_time("-10x", 0));
}

TEST_CASE("collect asks each node for its group's services in the window and writes the folder")
{
  Plan plan = testing::example_plan("collect-run");
  plan.output_dir = testing::scratch_dir("collect-out");
  testing::FakeCluster fakes;
  fakes.nodes["server1"].collect_output = node_output({k_started});
  fakes.nodes["worker1"].collect_output = node_output({});
  auto all = testing::everything(plan);
  testing::FakeRun run(plan, fakes, all.nodes);
  CollectOptions options;
  options.since = 1796327999;
  options.until = 1796328010.4;
  options.out = plan.output_dir / "evidence";
  options.max_journal_bytes = 4096;
  auto files = run_collect(run.cluster, all.services, options);
  REQUIRE(files);
  REQUIRE(files->size() >= 2);
  CHECK((*files)[1] == options.out / "timeline.html");
  CHECK(std::filesystem::exists(options.out / "timeline.html"));
  REQUIRE(fakes.nodes["server1"].collect_requests.size() == 1);
  CHECK(fakes.nodes["server1"].collect_requests[0] ==
        std::vector<std::string>{"demo", "1796327999", "1796328011", "4096", "db"});
  CHECK(fakes.nodes["worker1"].collect_requests[0].back() == "worker");
  std::ifstream summary(options.out / "summary.txt");
  std::string text((std::istreambuf_iterator<char>(summary)), std::istreambuf_iterator<char>());
  CHECK(text.find("server1  1 journal lines, release abc123") != std::string::npos);
}

TEST_CASE("audit: each node step of a run is a JSON line; runs shows the last runs and one run's steps")
{
  auto out = testing::scratch_dir("audit");
  {
    StepLog::audit_to(audit_file(out / "runs" / "r1.jsonl"));
    {
      StepLog lock("server1", "lock");
    }
    {
      StepLog failed("server2", "seal");
      failed.result("exit 3: missing bin/db");
    }
    StepLog::audit_to({});
    StepLog after("server1", "not recorded");
  }
  append_run(out / "runs.jsonl", {"r0", "deploy", 1796328000, 1796328010, 0, ""});
  append_run(out / "runs.jsonl", {"r1", "rollback", 1796328100, 1796328112.5, 1, ""});
  std::string runs = runs_report(out, 1, "");
  CHECK(runs.find("r0") == std::string::npos); // --last 1
  CHECK(runs.find("2026-12-03T20:01:40Z  rollback  r1     12.5s  exit 1\n") != std::string::npos);
  std::string steps = runs_report(out, 10, "r1");
  CHECK(steps.find("server1     lock  ok\n") != std::string::npos);
  CHECK(steps.find("server2     seal  exit 3: missing bin/db\n") != std::string::npos);
  CHECK(steps.find("not recorded") == std::string::npos);
  CHECK(runs_report(out, 10, "r9").starts_with("no steps recorded"));
  CHECK(runs_report(testing::scratch_dir("audit-none"), 10, "") == "no run has changed nodes from this build tree yet\n");
}
