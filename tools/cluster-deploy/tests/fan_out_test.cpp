#include "fan_out.hpp"
#include "fake_cluster.hpp"
#include "test_support.hpp"

#include <atomic>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <set>

using namespace deploy;
using deploy::testing::FakeCluster;

namespace {

/// `count` nodes that each must get the same program, and a config of their own, in a folder
/// `name` of their own (ctest runs test cases at the same time).
struct Files {
  std::vector<ReleaseFile> programs, configs;
  std::vector<std::vector<const ReleaseFile*>> uploads;

  Files(const std::string& name, std::size_t count, std::uint64_t bytes)
  {
    auto dir = testing::scratch_dir("fan-out-" + name);
    std::ofstream(dir / "prog") << std::string(bytes, 'x');
    std::ofstream(dir / "conf") << "secret=1";
    programs.assign(count, ReleaseFile{"bin/prog", dir / "prog", "aa", {"svc"}});
    configs.assign(count, ReleaseFile{"etc/svc/svc.conf", dir / "conf", "cc", {"svc"}});
    for (std::size_t i = 0; i < count; ++i) {
      uploads.push_back({&programs[i], &configs[i]});
    }
  }
};

/// Moves that record who got what, and check that no node is in two moves at once.
struct Recorder {
  std::mutex mutex;
  std::vector<std::atomic<int>> in_use;
  std::map<std::size_t, int> got;          ///< node -> copies received
  std::vector<std::pair<std::size_t, std::size_t>> passes; ///< from, to
  std::set<std::size_t> failing_senders;   ///< pass_on from these fails
  std::set<std::size_t> unreachable;       ///< send to these fails
  std::vector<std::pair<std::optional<std::size_t>, std::size_t>> takes; ///< from (empty: the controller), to
  std::vector<std::size_t> taken_together; ///< per take, how many files it took
  std::set<std::size_t> started;           ///< nodes that began to take
  std::set<std::size_t> broke;             ///< nodes whose stream broke (stream_broke)
  std::map<std::size_t, bool> outcome;     ///< node -> whether its take succeeded
  std::condition_variable finished;        ///< an outcome was booked, or a take began
  bool overlap = false;
  bool parent_not_started = false; ///< a node took from one that had not begun to take, or never ended

  explicit Recorder(std::size_t count) : in_use(count) {}

  void enter(std::size_t node)
  {
    if (in_use[node]++ != 0) {
      overlap = true;
    }
  }
  void leave(std::size_t node) { --in_use[node]; }

  FanOutMoves moves()
  {
    FanOutMoves m;
    m.send = [this](std::size_t to, const ReleaseFile&) -> Result<void> {
      enter(to);
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
      leave(to);
      if (unreachable.count(to)) {
        return fail("node" + std::to_string(to) + ": connection lost");
      }
      std::lock_guard lock(mutex);
      ++got[to];
      return {};
    };
    m.pass_on = [this](std::size_t from, const ReleaseFile&, std::size_t to, const ReleaseFile&) -> Result<void> {
      enter(from);
      enter(to);
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
      leave(from);
      leave(to);
      std::lock_guard lock(mutex);
      passes.emplace_back(from, to);
      if (failing_senders.count(from)) {
        return fail("ssh: connect timed out");
      }
      ++got[to];
      return {};
    };
    m.take = [this](std::size_t to, std::optional<std::size_t> from, const std::vector<const ReleaseFile*>& files) -> Result<void> {
      enter(to);
      {
        // A node reads what its parent writes as it arrives: the parent's take must be under
        // way. Its thread may call take a moment after this one (the order between the two
        // calls is the scheduler's), so wait for it, bounded, as the node's read does.
        std::unique_lock lock(mutex);
        taken_together.push_back(files.size());
        takes.emplace_back(from, to);
        started.insert(to);
        finished.notify_all();
        bool parent_began = !from || finished.wait_for(lock, std::chrono::seconds(5), [&] { return started.count(*from) > 0; });
        parent_not_started = parent_not_started || !parent_began;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
      leave(to);
      std::unique_lock lock(mutex);
      // What a node reads is what its parent takes: a parent's broken stream breaks its children's.
      bool ok = !unreachable.count(to) && !(from && failing_senders.count(*from));
      if (from) { // bounded: a parent whose take never ends fails the test, not hangs it
        bool ended = finished.wait_for(lock, std::chrono::seconds(10), [&] { return outcome.count(*from) > 0; });
        parent_not_started = parent_not_started || !ended;
        ok = ok && ended && outcome[*from];
      }
      outcome[to] = ok;
      finished.notify_all();
      if (!ok) {
        return fail("node" + std::to_string(to) + ": stream broke");
      }
      ++got[to];
      return {};
    };
    m.fell_back = [](std::size_t, std::size_t, const ReleaseFile&, const std::string&) {};
    m.stream_broke = [this](std::optional<std::size_t>, std::size_t to, const ReleaseFile&, const std::string&) {
      std::lock_guard lock(mutex);
      broke.insert(to);
    };
    return m;
  }
};

/// Deploys every service of `plan` to `fakes` with --fan-out on.
bool deploy_with_fan_out(const Plan& plan, FakeCluster& fakes)
{
  Output output(Color::never);
  auto all = testing::everything(plan);
  Cluster cluster(plan, all.nodes, output, 4);
  cluster.connect(fakes.connector());
  DeployOptions options{false, HealthOptions{Seconds{5}, Seconds{0}}, FanOutMode::on};
  return run_deploy(cluster, all.services, render_releases(plan, all.nodes), options);
}

} // namespace

TEST_CASE("fan-out: programs and libraries only, to two nodes or more - auto only where it pays")
{
  Files small("rule-small", 3, 1000);
  CHECK(choose_fan_out(small.uploads, FanOutMode::off).empty());
  auto on = choose_fan_out(small.uploads, FanOutMode::on);
  REQUIRE(on.size() == 1); // the program; never the config (it may hold a secret)
  CHECK(on[0].sha256 == "aa");
  CHECK(on[0].bytes == 1000);
  CHECK(on[0].nodes.size() == 3);
  CHECK(choose_fan_out(small.uploads, FanOutMode::automatic).empty());

  Files large_few("rule-large-few", k_fan_out_min_nodes - 1, k_fan_out_min_bytes);
  CHECK(choose_fan_out(large_few.uploads, FanOutMode::automatic).empty());
  Files small_many("rule-small-many", k_fan_out_min_nodes, k_fan_out_min_bytes - 1);
  CHECK(choose_fan_out(small_many.uploads, FanOutMode::automatic).empty());
  Files large_many("rule-large-many", k_fan_out_min_nodes, k_fan_out_min_bytes);
  CHECK(choose_fan_out(large_many.uploads, FanOutMode::automatic).size() == 1);

  Files one("rule-one", 1, 1000);
  CHECK(choose_fan_out(one.uploads, FanOutMode::on).empty());
}

TEST_CASE("fan-out: one copy from the controller, the nodes pass it on, each node busy with one move at a time")
{
  Files files("supervisor", 32, 100);
  auto chosen = choose_fan_out(files.uploads, FanOutMode::on);
  Recorder recorder(32);
  FanOutCounts counts;
  auto failed = supervise_fan_out(chosen, std::vector<bool>(32, true), recorder.moves(), counts);
  CHECK(failed.empty());
  CHECK(counts.sent == 1);
  CHECK(counts.passed_on == 31);
  CHECK(counts.fallbacks == 0);
  CHECK(counts.bytes_sent == 100);
  CHECK(recorder.got.size() == 32);
  for (const auto& [node, copies] : recorder.got) {
    CHECK(copies == 1);
  }
  CHECK_FALSE(recorder.overlap);
  // Holders grow as they pass on: many nodes pass on, not only the first.
  std::set<std::size_t> senders;
  for (const auto& [from, to] : recorder.passes) {
    senders.insert(from);
  }
  CHECK(senders.size() >= 8);
}

TEST_CASE("fan-out: a node whose passing on fails stops passing on - its receiver gets the file from the controller")
{
  Files files("failing-sender", 16, 100);
  auto chosen = choose_fan_out(files.uploads, FanOutMode::on);
  Recorder recorder(16);
  std::size_t first = chosen[0].nodes[0].first; // the first copy goes here: make it the bad sender
  recorder.failing_senders = {first};
  FanOutCounts counts;
  auto failed = supervise_fan_out(chosen, std::vector<bool>(16, true), recorder.moves(), counts);
  CHECK(failed.empty());
  CHECK(recorder.got.size() == 16);
  int tries_from_first = 0;
  for (const auto& [from, to] : recorder.passes) {
    tries_from_first += from == first ? 1 : 0;
  }
  CHECK(tries_from_first == 1);
  CHECK(counts.fallbacks == 1);
  CHECK(counts.sent == 2); // the first copy and the fallback; everything else passed on
  CHECK(counts.passed_on == 14);
  CHECK_FALSE(recorder.overlap);
}

TEST_CASE("fan-out: nodes that cannot pass on get the file from the controller - a node that cannot take it is reported")
{
  Files files("cannot-pass-on", 4, 100);
  auto chosen = choose_fan_out(files.uploads, FanOutMode::on);
  Recorder recorder(4);
  recorder.unreachable = {2};
  FanOutCounts counts;
  auto failed = supervise_fan_out(chosen, std::vector<bool>(4, false), recorder.moves(), counts);
  REQUIRE(failed.size() == 1);
  CHECK(failed.at(2) == "node2: connection lost");
  CHECK(counts.passed_on == 0);
  CHECK(counts.sent == 3);
  CHECK(recorder.got.size() == 3);
}

TEST_CASE("deploy --fan-out on: the servers' program goes once from the controller - the key is taken away from every node")
{
  Plan plan = testing::example_plan("fan-out-deploy");
  FakeCluster fakes;
  REQUIRE(deploy_with_fan_out(plan, fakes));
  auto& s1 = fakes.nodes["server1"];
  auto& s2 = fakes.nodes["server2"];
  auto has = [](const std::vector<std::string>& list, const std::string& item) {
    return std::find(list.begin(), list.end(), item) != list.end();
  };
  // bin/db (small: passed on whole) went to one server from the controller and was passed on to the other.
  CHECK(has(s1.uploaded, "bin/db") != has(s2.uploaded, "bin/db"));
  CHECK(has(s1.adopted, "bin/db") != has(s2.adopted, "bin/db"));
  CHECK(s1.passed_on.size() + s2.passed_on.size() == 1);
  CHECK(s1.taken.empty());
  CHECK(s2.taken.empty());
  // Configs always come from the controller, with the seal: the first copy of bin/db is the
  // only file that went alone.
  CHECK(has(s1.uploaded, "etc/db/db.conf"));
  CHECK(has(s2.uploaded, "etc/db/db.conf"));
  CHECK(s1.file_trips + s2.file_trips == 1);
  CHECK(fakes.nodes["worker1"].file_trips == 0);
  // The private key went on stdin, never in argv; it is gone again everywhere.
  CHECK(s1.relay_private_key.starts_with("-----BEGIN OPENSSH PRIVATE KEY-----"));
  for (const auto& arg : s1.relay_open_args) {
    CHECK(arg.find("PRIVATE KEY") == std::string::npos);
  }
  CHECK(s1.relay_open_args.at(1).starts_with("ssh-ed25519 "));
  for (auto& [name, node] : fakes.nodes) {
    CHECK_FALSE(node.relay_open);
  }
  // worker1 is alone with its program: nothing to pass on, so it never got the key.
  CHECK(fakes.nodes["worker1"].relay_open_args.empty());
}

/// `plan`'s db program made k_stream_min_bytes large, so that it is streamed.
void make_db_large(Plan& plan)
{
  for (auto& service : plan.services) {
    if (service.name == "db") {
      std::ofstream(service.program) << std::string(k_stream_min_bytes, 'd');
    }
  }
}

TEST_CASE("deploy --fan-out on: a large program is streamed - one server reads it from the other as it arrives")
{
  Plan plan = testing::example_plan("fan-out-stream");
  make_db_large(plan);
  FakeCluster fakes;
  REQUIRE(deploy_with_fan_out(plan, fakes));
  auto& s1 = fakes.nodes["server1"];
  auto& s2 = fakes.nodes["server2"];
  auto count = [](const std::vector<std::string>& list) { return std::count(list.begin(), list.end(), "bin/db"); };
  CHECK(count(s1.uploaded) + count(s2.uploaded) == 1);
  REQUIRE(s1.taken.size() + s2.taken.size() == 1);
  CHECK((s1.taken.empty() ? s2 : s1).taken[0].starts_with("bin/db demo-relay@"));
  CHECK(s1.passed_on.empty());
  CHECK(s2.passed_on.empty());
  CHECK(s1.adopted.empty());
  CHECK(s2.adopted.empty());
}

TEST_CASE("deploy --fan-out on: a broken stream is passed on whole from a node that has it, not sent again")
{
  Plan plan = testing::example_plan("fan-out-stream-broke");
  make_db_large(plan);
  FakeCluster fakes;
  fakes.nodes["server1"].take_fails = true;
  fakes.nodes["server2"].take_fails = true;
  REQUIRE(deploy_with_fan_out(plan, fakes));
  auto& s1 = fakes.nodes["server1"];
  auto& s2 = fakes.nodes["server2"];
  auto count = [](const std::vector<std::string>& list) { return std::count(list.begin(), list.end(), "bin/db"); };
  CHECK(count(s1.uploaded) + count(s2.uploaded) == 1);
  CHECK(count(s1.adopted) + count(s2.adopted) == 1);
  CHECK(s1.passed_on.size() + s2.passed_on.size() == 1);
}

TEST_CASE("deploy --fan-out on: a failed pass-on falls back to sending from the controller and the deploy succeeds")
{
  Plan plan = testing::example_plan("fan-out-fallback");
  make_db_large(plan);
  FakeCluster fakes;
  for (const char* server : {"server1", "server2"}) { // the stream breaks, and so does passing on whole
    fakes.nodes[server].take_fails = true;
    fakes.nodes[server].pass_on_fails = true;
  }
  REQUIRE(deploy_with_fan_out(plan, fakes));
  CHECK(std::count(fakes.nodes["server1"].uploaded.begin(), fakes.nodes["server1"].uploaded.end(), "bin/db") == 1);
  CHECK(std::count(fakes.nodes["server2"].uploaded.begin(), fakes.nodes["server2"].uploaded.end(), "bin/db") == 1);
  CHECK_FALSE(fakes.nodes["server1"].relay_open);
  CHECK_FALSE(fakes.nodes["server2"].relay_open);
}

TEST_CASE("deploy --fan-out on: a node that cannot join the fan-out gets its files from the controller")
{
  Plan plan = testing::example_plan("fan-out-refused");
  FakeCluster fakes;
  fakes.nodes["server2"].relay_refused = "user demo-relay exists and was not created by cluster-deploy";
  REQUIRE(deploy_with_fan_out(plan, fakes));
  CHECK(fakes.nodes["server1"].passed_on.empty());
  CHECK(std::count(fakes.nodes["server2"].uploaded.begin(), fakes.nodes["server2"].uploaded.end(), "bin/db") == 1);
  CHECK(std::count(fakes.nodes["server1"].uploaded.begin(), fakes.nodes["server1"].uploaded.end(), "bin/db") == 1);
  CHECK_FALSE(fakes.nodes["server1"].relay_open);
}

TEST_CASE("deploy --fan-out on: a file that arrives damaged is sent again from the controller")
{
  Plan plan = testing::example_plan("fan-out-damaged");
  make_db_large(plan);
  FakeCluster fakes;
  for (const char* server : {"server1", "server2"}) { // the stream breaks; what is passed on whole arrives damaged
    fakes.nodes[server].take_fails = true;
    fakes.nodes[server].arrives_damaged = {"bin/db"};
  }
  REQUIRE(deploy_with_fan_out(plan, fakes));
  // One server got it from the controller first, the other by relay, damaged: then from the controller too.
  CHECK(std::count(fakes.nodes["server1"].uploaded.begin(), fakes.nodes["server1"].uploaded.end(), "bin/db") == 1);
  CHECK(std::count(fakes.nodes["server2"].uploaded.begin(), fakes.nodes["server2"].uploaded.end(), "bin/db") == 1);
  CHECK(fakes.nodes["server1"].adopted.empty());
  CHECK(fakes.nodes["server2"].adopted.empty());
}

TEST_CASE("fan-out: what no node passes on is sent from the controller once the first copy has left, one move a node at a time")
{
  Files files("from-here", 8, 100);
  auto chosen = choose_fan_out(files.uploads, FanOutMode::on);
  REQUIRE(chosen.size() == 1);
  for (std::size_t i = 0; i < 8; ++i) { // each node's config, from the controller only
    chosen.push_back(FanOutFile{"cc", 8, {{i, &files.configs[i]}}, false, {}});
  }
  std::mutex mutex;
  std::vector<std::string> sends; ///< "<node> <path>" in the order they started
  bool first_copy_sent = false, config_too_early = false;
  Recorder recorder(8);
  FanOutMoves moves = recorder.moves();
  auto recorded_send = moves.send;
  moves.send = [&](std::size_t to, const ReleaseFile& file) -> Result<void> {
    {
      std::lock_guard lock(mutex);
      sends.push_back(std::to_string(to) + " " + file.path);
      config_too_early = config_too_early || (file.path.starts_with("etc/") && !first_copy_sent);
    }
    auto result = recorded_send(to, file);
    std::lock_guard lock(mutex);
    first_copy_sent = first_copy_sent || file.path == "bin/prog";
    return result;
  };
  FanOutCounts counts;
  auto failed = supervise_fan_out(chosen, std::vector<bool>(8, true), moves, counts);
  CHECK(failed.empty());
  REQUIRE(sends.size() == 9);
  CHECK(sends.front().ends_with("bin/prog")); // the first copy left before any config
  CHECK_FALSE(config_too_early);              // and no config shared the uplink with it
  CHECK(counts.sent == 1);                   // configs are not counted as fan-out copies
  CHECK(counts.passed_on == 7);
  CHECK_FALSE(recorder.overlap);
}

TEST_CASE("deploy --fan-out on: a node with fan_out=off in the inventory gets its files from the controller")
{
  Plan plan = testing::example_plan("fan-out-inventory-off");
  for (auto& node : plan.inventory.nodes) {
    if (node.name == "server2") {
      node.fan_out = false;
    }
  }
  FakeCluster fakes;
  REQUIRE(deploy_with_fan_out(plan, fakes));
  CHECK(fakes.nodes["server1"].passed_on.empty());
  CHECK(fakes.nodes["server2"].relay_open_args.empty()); // never got the key
  CHECK(std::count(fakes.nodes["server2"].uploaded.begin(), fakes.nodes["server2"].uploaded.end(), "bin/db") == 1);
}

TEST_CASE("fan-out streams: one copy from the controller, a tree of degree 3, a parent begins before its children")
{
  Files files("tree", 32, 100);
  auto chosen = choose_fan_out(files.uploads, FanOutMode::on);
  Recorder recorder(32);
  FanOutCounts counts;
  auto got = stream_fan_out(chosen, std::vector<bool>(32, true), recorder.moves(), counts);
  REQUIRE(got.size() == 1);
  CHECK(got[0].size() == 32);
  CHECK(counts.sent == 1);
  CHECK(counts.passed_on == 31);
  CHECK(counts.bytes_sent == 100);
  CHECK(recorder.got.size() == 32);
  CHECK_FALSE(recorder.parent_not_started);
  std::map<std::size_t, int> children;
  int from_controller = 0;
  for (const auto& [from, to] : recorder.takes) {
    from ? ++children[*from] : ++from_controller;
  }
  CHECK(from_controller == 1);
  for (const auto& [parent, count] : children) {
    CHECK(count <= static_cast<int>(k_stream_degree));
  }
  CHECK(stream_parent(0) == std::nullopt);
  CHECK(stream_parent(1) == 0u);
  CHECK(stream_parent(3) == 0u);
  CHECK(stream_parent(4) == 1u);
  CHECK(stream_parent(13) == 4u);
}

TEST_CASE("fan-out streams: a node whose stream breaks cuts off its part of the tree - the holders pass it on whole")
{
  Files files("broken-stream", 13, 100);
  auto chosen = choose_fan_out(files.uploads, FanOutMode::on);
  Recorder recorder(13);
  recorder.unreachable = {1}; // position 1: its children are 4, 5, 6 and theirs 13.. (none here)
  FanOutCounts counts;
  auto got = stream_fan_out(chosen, std::vector<bool>(13, true), recorder.moves(), counts);
  CHECK(got[0].size() == 9);
  for (std::size_t p : {1, 4, 5, 6}) {
    CHECK(std::find(got[0].begin(), got[0].end(), p) == got[0].end());
  }
  CHECK(recorder.broke == std::set<std::size_t>{1}); // its children's failure is no news
  recorder.unreachable.clear();
  chosen[0].holders = got[0];
  auto failed = supervise_fan_out(chosen, std::vector<bool>(13, true), recorder.moves(), counts);
  CHECK(failed.empty());
  CHECK(recorder.got.size() == 13);
  CHECK(counts.sent == 1); // the controller sent nothing more
  CHECK(counts.passed_on == 12);
  CHECK(recorder.passes.size() == 4);
}

TEST_CASE("fan-out streams: a node without an ssh client takes no stream - it is left to the supervisor")
{
  Files files("no-ssh-client", 4, 100);
  auto chosen = choose_fan_out(files.uploads, FanOutMode::on);
  Recorder recorder(4);
  FanOutCounts counts;
  auto got = stream_fan_out(chosen, {true, false, true, true}, recorder.moves(), counts);
  CHECK(got[0] == std::vector<std::size_t>{0, 2, 3});
  chosen[0].holders = got[0];
  auto failed = supervise_fan_out(chosen, {true, false, true, true}, recorder.moves(), counts);
  CHECK(failed.empty());
  CHECK(recorder.got.size() == 4);
  CHECK(counts.sent == 1);
  REQUIRE(recorder.passes.size() == 1);
  CHECK(recorder.passes[0].second == 1);
}

TEST_CASE("fan-out streams: a program and the library that goes to the same nodes are one stream - one take a node")
{
  Files program("together", k_fan_out_min_nodes, k_fan_out_min_bytes - 1000);
  auto dir = testing::scratch_dir("fan-out-together-lib");
  std::ofstream(dir / "lib") << std::string(1000, 'l');
  std::vector<ReleaseFile> libraries(k_fan_out_min_nodes, ReleaseFile{"lib/svc/libx.so.1", dir / "lib", "bb", {"svc"}});
  for (std::size_t i = 0; i < libraries.size(); ++i) {
    program.uploads[i].push_back(&libraries[i]);
  }
  // Neither is 4 MiB alone; together they are: auto passes both on, as one stream.
  auto chosen = choose_fan_out(program.uploads, FanOutMode::automatic);
  REQUIRE(chosen.size() == 2);
  Recorder recorder(k_fan_out_min_nodes);
  FanOutCounts counts;
  auto got = stream_fan_out(chosen, std::vector<bool>(k_fan_out_min_nodes, true), recorder.moves(), counts);
  CHECK(got[0].size() == k_fan_out_min_nodes);
  CHECK(got[1].size() == k_fan_out_min_nodes);
  CHECK(recorder.takes.size() == k_fan_out_min_nodes); // one take a node, not one a file
  CHECK(recorder.taken_together == std::vector<std::size_t>(k_fan_out_min_nodes, 2));
  CHECK(counts.sent == 2); // one copy of each from the controller
  CHECK(counts.passed_on == 2 * static_cast<int>(k_fan_out_min_nodes - 1));
  CHECK(counts.bytes_sent == k_fan_out_min_bytes);
  CHECK_FALSE(recorder.parent_not_started);

  Files alone("alone", k_fan_out_min_nodes, k_fan_out_min_bytes - 1000); // the program without its library
  CHECK(choose_fan_out(alone.uploads, FanOutMode::automatic).empty());
}

TEST_CASE("fan-out streams: a small set whose nodes take larger streams rides at their end - no take of its own")
{
  // Nodes 0-2 take program A, 3-7 program B (each a large stream), 0-8 a library both share.
  auto dir = testing::scratch_dir("fan-out-ride");
  std::ofstream(dir / "a") << std::string(k_stream_min_bytes, 'a');
  std::ofstream(dir / "b") << std::string(k_stream_min_bytes, 'b');
  std::ofstream(dir / "lib") << std::string(1000, 'l');
  const std::size_t count = 9;
  std::vector<ReleaseFile> a(count, ReleaseFile{"bin/a", dir / "a", "aa", {"a"}});
  std::vector<ReleaseFile> b(count, ReleaseFile{"bin/b", dir / "b", "bb", {"b"}});
  std::vector<ReleaseFile> lib(count, ReleaseFile{"lib/x/libc.so.6", dir / "lib", "cc", {"x"}});
  std::vector<std::vector<const ReleaseFile*>> uploads(count);
  for (std::size_t i = 0; i < count; ++i) {
    if (i < 3) {
      uploads[i].push_back(&a[i]);
    } else if (i < 8) {
      uploads[i].push_back(&b[i]);
    } // node 8 takes the library alone
    uploads[i].push_back(&lib[i]);
  }
  auto chosen = choose_fan_out(uploads, FanOutMode::on);
  REQUIRE(chosen.size() == 3);
  Recorder recorder(count);
  FanOutCounts counts;
  auto got = stream_fan_out(chosen, std::vector<bool>(count, true), recorder.moves(), counts);
  for (const auto& positions : got) {
    CHECK(positions.size() == std::set<std::size_t>(positions.begin(), positions.end()).size());
  }
  auto library = std::find_if(chosen.begin(), chosen.end(), [](const FanOutFile& f) { return f.sha256 == "cc"; });
  REQUIRE(library != chosen.end());
  CHECK(got[static_cast<std::size_t>(library - chosen.begin())].size() == count);
  CHECK(recorder.takes.size() == count); // one take a node: the library rode with A and B; node 8 took it alone
  // In the scheduler's order: 8 takes of a program and the library, node 8's of the library alone.
  CHECK(std::count(recorder.taken_together.begin(), recorder.taken_together.end(), 2) == 8);
  CHECK(std::count(recorder.taken_together.begin(), recorder.taken_together.end(), 1) == 1);
  CHECK(counts.sent == 5); // A, B, and the library once per stream it went down (A's, B's, node 8's)
  CHECK(counts.bytes_sent == 2 * k_stream_min_bytes + 3 * 1000);
  CHECK_FALSE(recorder.parent_not_started);
}
