// A deploy that changes a Raft group's members, on fake nodes whose member hooks (MEMBERS,
// JOIN, LEAVE, TRANSFER, LEADER, QUORUM) answer from one model of the group: the order of
// joins, leaves and starts, and the refusals before anything changes.
#include "deploy.hpp"
#include "membership.hpp"
#include "status.hpp"
#include "fake_cluster.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>

using namespace deploy;
using deploy::testing::FakeCluster;
using deploy::testing::split_quoted;

namespace {

/// The group as the fake nodes' hooks see it; each hook that changes it is written into the
/// fakes' `order`, next to the nodes' systemctl calls ("JOIN s4", "LEAVE s3", "TRANSFER s1 s2").
struct Group {
  std::vector<std::pair<std::string, std::string>> members; ///< name, address
  std::string leader;
  std::set<std::string> dead; ///< members that do not answer: QUORUM fails while one is a member
  int members_failures = 0;   ///< the next this many MEMBERS queries fail
  std::mutex mutex;

  int answer(FakeCluster& fakes, const std::string& node, const std::string& command, std::string& out)
  {
    std::lock_guard lock(mutex);
    auto words = split_quoted(command);
    const std::string& hook = words.at(0);
    if (hook == "list-members" && members_failures > 0) {
      --members_failures;
      return 1;
    }
    if (hook == "list-members") {
      for (const auto& [name, address] : members) {
        out += name + " " + address + "\n";
      }
    } else if (hook == "who-leads") {
      out = leader + "\n";
    } else if (hook == "group-check") {
      return std::any_of(members.begin(), members.end(), [&](const auto& m) { return dead.count(m.first) != 0; });
    } else if (hook == "add-member") {
      members.emplace_back(words.at(1), words.at(2));
      fakes.order.push_back("JOIN " + words.at(1));
    } else if (hook == "remove-member") {
      std::erase_if(members, [&](const auto& m) { return m.first == words.at(1); });
      fakes.order.push_back("LEAVE " + words.at(1));
      if (leader == words.at(1)) { // steps down: the first that stays leads
        leader = members.front().first;
      }
    } else if (hook == "take-lead") {
      fakes.order.push_back("TRANSFER " + words.at(1) + " " + node);
      leader = node;
    }
    return 0;
  }
};

const char* hooks = "<quorum command='group-check'/><leader command='who-leads'/><members command='list-members'/>"
                    "<join command='add-member @member@ @member_address@'/>"
                    "<leave command='remove-member @member@ @member_address@'/>"
                    "<transfer command='take-lead @member@'/>";

/// One scratch folder whose servers.txt each step rewrites; the member records stay.
struct Scenario {
  std::filesystem::path dir;
  FakeCluster fakes;
  Group group;

  explicit Scenario(const std::string& name) : dir(deploy::testing::scratch_dir(name)) {}

  Plan plan(const std::string& servers, const std::string& extra = hooks)
  {
    deploy::testing::write_inventory(dir, servers, "");
    std::ofstream(dir / "db.conf.in") << "state=@member_state@\ncluster=@members:{name}={address}@\n";
    std::string xml = "<plan version='1' cluster='demo' inventory='" + (dir / "inv").string() + "' output='" +
                      (dir / "out").string() +
                      "'><ssh config='' known-hosts='' host-key-policy='strict' parallel='4'/>"
                      "<service name='db' group='servers' serial='1' bootstrap='true'><program>" +
                      (dir / "db").string() + "</program><config template='" + (dir / "db.conf.in").string() +
                      "' name='db.conf'/><health kind='http' port='2379' path='/health'/>" + extra +
                      "</service></plan>";
    return deploy::testing::plan_with_inventory(xml, dir / "inv");
  }

  /// Deploys `plan` to its inventory's nodes; each node's hooks answer from `group`. With
  /// `locked`, as the CLI does: MEMBERS is asked in the round trip that takes the lock.
  bool deploy(const Plan& plan, Output& output, bool locked = false)
  {
    for (const auto& node : plan.inventory.nodes) {
      fakes.nodes[node.name].service_user_answer = [this, name = node.name](const std::string& command,
                                                                           std::string& out) {
        return group.answer(fakes, name, command, out);
      };
    }
    fakes.order.clear();
    return locked ? deploy_everything_locked(plan, fakes, output) : deploy_everything(plan, fakes, output);
  }
};

const std::string three = "s1:10.0.0.1\ns2:10.0.0.2\ns3:10.0.0.3\n";

/// Deploys s1-s3 and makes them the group's members, `leader` leading.
void founded(Scenario& scenario, const std::string& leader)
{
  Output output(Color::never);
  REQUIRE(scenario.deploy(scenario.plan(three), output));
  scenario.group.members = {{"s1", "10.0.0.1"}, {"s2", "10.0.0.2"}, {"s3", "10.0.0.3"}};
  scenario.group.leader = leader;
}

/// The entries of `order` that are hooks, or starts of the db service on a node.
std::vector<std::string> steps(const std::vector<std::string>& order)
{
  std::vector<std::string> kept;
  for (const auto& line : order) {
    if (line.find("demo-db.service") == std::string::npos) {
      kept.push_back(line);
    } else if (line.find(" start ") != std::string::npos || line.find(" restart ") != std::string::npos) {
      kept.push_back(line.substr(0, line.find(' ')) + " start");
    }
  }
  return kept;
}

std::vector<std::string> names(const Group& group)
{
  std::vector<std::string> out;
  for (const auto& member : group.members) {
    out.push_back(member.first);
  }
  return out;
}

} // namespace

TEST_CASE("new members join one at a time, each started before the next is announced")
{
  Scenario scenario("members-grow");
  founded(scenario, "s1");
  Output output(Color::never);
  REQUIRE(scenario.deploy(scenario.plan(three + "s4:10.0.0.4\ns5:10.0.0.5\n"), output));
  CHECK(steps(scenario.fakes.order) == std::vector<std::string>{"JOIN s4", "s4 start", "JOIN s5", "s5 start"});
  CHECK(names(scenario.group) == std::vector<std::string>{"s1", "s2", "s3", "s4", "s5"});
  CHECK(scenario.fakes.nodes["s4"].member_events == std::vector<std::string>{"s4 joined"}); // for the evidence
}

TEST_CASE("the MEMBERS answer read with the lock is the deploy's question to the group")
{
  Scenario scenario("members-with-lock");
  founded(scenario, "s1");
  for (auto& [name, node] : scenario.fakes.nodes) {
    node.service_user_commands.clear();
    node.round_trips = 0;
  }
  Output output(Color::never);
  REQUIRE(scenario.deploy(scenario.plan(three + "s4:10.0.0.4\n"), output, true));
  CHECK(steps(scenario.fakes.order) == std::vector<std::string>{"JOIN s4", "s4 start"});
  auto& s1 = scenario.fakes.nodes["s1"].service_user_commands;
  CHECK(std::count(s1.begin(), s1.end(), "list-members") == 1); // with the lock, not again
  // s2 and s3 were not asked: the first of the group answers.
  CHECK(scenario.fakes.nodes["s2"].service_user_commands.empty());

  SECTION("an answer that failed with the lock is asked again")
  {
    scenario.group.members = {{"s1", "10.0.0.1"}, {"s2", "10.0.0.2"}, {"s3", "10.0.0.3"}, {"s4", "10.0.0.4"}};
    s1.clear();
    scenario.group.members_failures = 1;
    Output again(Color::never);
    REQUIRE(scenario.deploy(scenario.plan(three + "s4:10.0.0.4\n"), again, true));
    CHECK(std::count(s1.begin(), s1.end(), "list-members") == 2); // with the lock, then on its own
    CHECK(steps(scenario.fakes.order).empty()); // nothing to change
    CHECK(scenario.fakes.nodes["s2"].service_user_commands.empty());
  }
}

TEST_CASE("members leave one at a time, the leader last, after handing leadership to one that stays")
{
  Scenario scenario("members-shrink");
  founded(scenario, "s1");
  Output grown(Color::never);
  REQUIRE(scenario.deploy(scenario.plan(three + "s4:10.0.0.4\ns5:10.0.0.5\n"), grown));
  Output output(Color::never);
  // s1 leads and leaves, with s4; s2, s3 and s5 stay.
  REQUIRE(scenario.deploy(scenario.plan("s2:10.0.0.2\ns3:10.0.0.3\ns5:10.0.0.5\n"), output));
  CHECK(steps(scenario.fakes.order) == std::vector<std::string>{"LEAVE s4", "TRANSFER s1 s2", "LEAVE s1"});
  CHECK(names(scenario.group) == std::vector<std::string>{"s2", "s3", "s5"});
  CHECK(scenario.group.leader == "s2");
  CHECK(scenario.fakes.nodes["s2"].member_events == std::vector<std::string>{"s4 left", "s1 left"});
  CHECK(scenario.fakes.nodes["s1"].cleaned); // retired where it can be reached
  CHECK_FALSE(scenario.fakes.nodes["s1"].data_purged);
  auto plan = scenario.plan("s2:10.0.0.2\ns3:10.0.0.3\ns5:10.0.0.5\n");
  CHECK(deploy::removed_members(plan, plan.services[0]) ==
        std::vector<deploy::Member>{{"s1", "10.0.0.1"}, {"s4", "10.0.0.4"}});

  SECTION("status shows the removed members, and a member the group still counts that the inventory lost")
  {
    scenario.group.members.emplace_back("s6", "10.0.0.6");
    deploy::testing::FakeRun run(plan, scenario.fakes, deploy::testing::everything(plan).nodes, Format::json);
    std::map<std::string, int> trips;
    for (const auto& [name, node] : scenario.fakes.nodes) {
      trips[name] = -node.round_trips;
    }
    auto json = deploy::testing::capture_stdout([&] { run_status(run.cluster, deploy::testing::everything(plan).services); });
    for (const auto& [name, node] : scenario.fakes.nodes) {
      trips[name] += node.round_trips;
    }
    // The group's MEMBERS question rode its first node's status read: one round trip a node
    // of the inventory (none to those it lost).
    for (const auto& [name, count] : trips) {
      INFO(name);
      CHECK(count == (plan.inventory.find(name) ? 1 : 0));
    }
    std::erase_if(json, [](char c) { return c == ' ' || c == '\n'; });
    CHECK_THAT(json, Catch::Contains(R"("members_outside":[{"service":"db","name":"s6","address":"10.0.0.6",)"
                                     R"("state":"leaving"},{"service":"db","name":"s1","address":"10.0.0.1",)"
                                     R"("state":"removed"},{"service":"db","name":"s4","address":"10.0.0.4",)"
                                     R"("state":"removed"}])"));
  }
  SECTION("a removed member that comes back joins with its old data moved aside first")
  {
    Output output(Color::never);
    REQUIRE(scenario.deploy(scenario.plan("s2:10.0.0.2\ns3:10.0.0.3\ns4:10.0.0.4\ns5:10.0.0.5\n"), output));
    CHECK(steps(scenario.fakes.order) == std::vector<std::string>{"JOIN s4", "s4 start"});
    CHECK(scenario.fakes.nodes["s4"].set_aside == std::vector<std::string>{"db"});
    CHECK(deploy::removed_members(plan, plan.services[0]) == std::vector<deploy::Member>{{"s1", "10.0.0.1"}});
  }
}

TEST_CASE("a replacement adds the new member first while the group is whole")
{
  Scenario scenario("members-replace");
  founded(scenario, "s1");
  Output output(Color::never);
  REQUIRE(scenario.deploy(scenario.plan("s1:10.0.0.1\ns2:10.0.0.2\ns4:10.0.0.4\n"), output));
  CHECK(steps(scenario.fakes.order) == std::vector<std::string>{"JOIN s4", "s4 start", "LEAVE s3"});
}

TEST_CASE("a dead member leaves first, before its replacement joins")
{
  Scenario scenario("members-replace-dead");
  founded(scenario, "s1");
  scenario.group.dead = {"s3"};
  scenario.fakes.unreachable = {"s3"};
  Output output(Color::never);
  REQUIRE(scenario.deploy(scenario.plan("s1:10.0.0.1\ns2:10.0.0.2\ns4:10.0.0.4\n"), output));
  CHECK(steps(scenario.fakes.order) == std::vector<std::string>{"LEAVE s3", "JOIN s4", "s4 start"});
}

TEST_CASE("a change that would cost the group its majority is refused before any node changes")
{
  Scenario scenario("members-refused");
  founded(scenario, "s1");
  Output output(Color::never);
  auto plan = scenario.plan("s1:10.0.0.1\n");
  try {
    scenario.deploy(plan, output);
    FAIL("removing 2 of 3 members was not refused");
  } catch (const Error& error) {
    CHECK(error.exit_code() == 2);
    CHECK_THAT(error.what(), Catch::Contains("removing 2 of the 3 members of db's group in one deploy would leave 1"));
  }
  CHECK(steps(scenario.fakes.order).empty());
  CHECK(names(scenario.group) == std::vector<std::string>{"s1", "s2", "s3"});
}

TEST_CASE("a member to add without JOIN is refused before any node changes")
{
  Scenario scenario("members-no-join");
  founded(scenario, "s1");
  Output output(Color::never);
  auto plan = scenario.plan(three + "s4:10.0.0.4\n", "<quorum command='group-check'/><members command='list-members'/>");
  CHECK_THROWS_WITH(scenario.deploy(plan, output), Catch::Contains("JOIN"));
  CHECK(steps(scenario.fakes.order).empty());
}

TEST_CASE("members whose records are lost (a new build tree) get them again, and no member restarts")
{
  Scenario scenario("members-records-lost");
  founded(scenario, "s1");
  std::filesystem::remove_all(scenario.dir / "out" / "members");
  scenario.group.members = {{"s3", "10.0.0.3"}, {"s1", "10.0.0.1"}, {"s2", "10.0.0.2"}}; // the group's own order
  Output output(Color::never);
  REQUIRE(scenario.deploy(scenario.plan(three), output));
  CHECK(steps(scenario.fakes.order).empty());
  std::ifstream record(scenario.dir / "out" / "members" / "db" / "s3");
  std::stringstream text;
  text << record.rdbuf();
  CHECK(text.str() == "state new\ns1 10.0.0.1\ns2 10.0.0.2\ns3 10.0.0.3\n");
}
