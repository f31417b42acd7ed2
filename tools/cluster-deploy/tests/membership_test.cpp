// Members of a group with member hooks: parsing MEMBERS, who joins and who leaves, the
// refusals, the order (leader last, leaves first when the group is not whole), the records.
#include "membership.hpp"
#include "test_support.hpp"

#include <catch2/catch.hpp>

#include <filesystem>

using namespace deploy;

namespace {

/// A plan whose `db` group (servers) has the given nodes, with all member hooks.
Plan member_plan(const std::string& name, const std::string& servers, bool hooks = true)
{
  auto dir = testing::scratch_dir(name);
  testing::write_inventory(dir, servers, "w1:10.0.0.11\n");
  std::string xml = "<plan version='1' cluster='demo' inventory='" + (dir / "inv").string() + "' output='" +
                    (dir / "out").string() +
                    "'><ssh config='' known-hosts='' host-key-policy='strict' parallel='4'/>"
                    "<service name='db' group='servers'><program>" +
                    (dir / "db").string() + "</program><quorum command='q'/><leader command='l'/>" +
                    (hooks ? "<members command='m'/><join command='j @member@'/><leave command='x @member@'/>" : "") +
                    "</service></plan>";
  return testing::plan_with_inventory(xml, dir / "inv");
}

std::vector<std::string> names(const std::vector<const Node*>& nodes)
{
  std::vector<std::string> out;
  for (const Node* node : nodes) {
    out.push_back(node->name);
  }
  return out;
}

std::vector<std::string> names(const std::vector<Member>& members)
{
  std::vector<std::string> out;
  for (const auto& member : members) {
    out.push_back(member.name);
  }
  return out;
}

std::vector<Member> members(std::initializer_list<const char*> list)
{
  std::vector<Member> out;
  for (const char* name : list) {
    out.push_back(Member{name, ""});
  }
  return out;
}

} // namespace

TEST_CASE("MEMBERS output: name and address a line; a member known by its address alone")
{
  auto parsed = parse_members("s1 10.0.0.1\n\n- 10.0.0.4\ns2\n");
  REQUIRE(parsed);
  CHECK(*parsed == std::vector<Member>{{"s1", "10.0.0.1"}, {"-", "10.0.0.4"}, {"s2", ""}});
  CHECK(parse_members("s1 10.0.0.1 extra\n").error() ==
        "MEMBERS printed 's1 10.0.0.1 extra': expected one member a line, \"name [address]\"");
}

TEST_CASE("scale out: the inventory's new nodes join in inventory order, each with those before it")
{
  Plan plan = member_plan("members-out", "s1:10.0.0.1\ns2:10.0.0.2\ns3:10.0.0.3\ns4:10.0.0.4\ns5:10.0.0.5\n");
  const Service& db = plan.services.front();
  auto changes = member_changes(plan, db, members({"s1", "s2", "s3"}), "");
  REQUIRE(changes);
  CHECK(names(changes->joins) == std::vector<std::string>{"s4", "s5"});
  CHECK(changes->leaves.empty());
  CHECK(names(members_at_join(*changes, 0)) == std::vector<std::string>{"s1", "s2", "s3", "s4"});
  CHECK(names(members_at_join(*changes, 1)) == std::vector<std::string>{"s1", "s2", "s3", "s4", "s5"});
  CHECK(members_at_join(*changes, 1)[0].address == "10.0.0.1"); // from the inventory when MEMBERS gave none
}

TEST_CASE("scale in: members gone from the inventory leave, the leader last; a member added but not started counts")
{
  Plan plan = member_plan("members-in", "s2:10.0.0.2\ns3:10.0.0.3\ns4:10.0.0.4\n");
  const Service& db = plan.services.front();
  auto changes = member_changes(plan, db, members({"s1", "s2", "s3", "s4", "s5"}), "s1");
  REQUIRE(changes);
  CHECK(changes->joins.empty());
  CHECK(names(changes->leaves) == std::vector<std::string>{"s5", "s1"});
  // An etcd member added but never started has no name: matched by its address.
  auto unnamed = member_changes(plan, db, {{"s2", ""}, {"s3", ""}, {"-", "10.0.0.4"}}, "");
  REQUIRE(unnamed);
  CHECK(unnamed->joins.empty());
  CHECK(unnamed->leaves.empty());
}

TEST_CASE("refused before anything changes: below a majority, or a change without its hook")
{
  Plan one = member_plan("members-refused", "s1:10.0.0.1\n");
  CHECK(member_changes(one, one.services.front(), members({"s1", "s2", "s3"}), "").error() ==
        "removing 2 of the 3 members of db's group in one deploy would leave 1, fewer than a majority of 3: "
        "remove at most 1 per deploy (nothing was changed)");
  Plan bare = member_plan("members-no-hooks", "s1:10.0.0.1\ns2:10.0.0.2\n", false);
  bare.services.front().members = "m"; // MEMBERS alone: changes are seen, not made
  CHECK(member_changes(bare, bare.services.front(), members({"s1"}), "").error() ==
        "s2 is in group servers of the inventory but not a member of db's group, and db has no JOIN hook to add it");
  CHECK(member_changes(bare, bare.services.front(), members({"s1", "s2", "s3"}), "").error() ==
        "s3 is a member of db's group but in no node of group servers of the inventory, and db has no LEAVE hook "
        "to remove it");
}

TEST_CASE("replacing a dead member: when the leaves go first, the new one joins without them")
{
  Plan plan = member_plan("members-replace", "s1:10.0.0.1\ns2:10.0.0.2\ns4:10.0.0.4\n");
  auto changes = member_changes(plan, plan.services.front(), members({"s1", "s2", "s3"}), "");
  REQUIRE(changes);
  CHECK(names(changes->joins) == std::vector<std::string>{"s4"});
  CHECK(names(changes->leaves) == std::vector<std::string>{"s3"});
  CHECK(names(members_at_join(*changes, 0)) == std::vector<std::string>{"s1", "s2", "s3", "s4"}); // add, then remove
  changes->leaves_first = true;
  CHECK(names(members_at_join(*changes, 0)) == std::vector<std::string>{"s1", "s2", "s4"});
}

TEST_CASE("member records: kept per service and node, read back; hooks get the member as one word each")
{
  Plan plan = member_plan("members-records", "s1:10.0.0.1\n");
  const Service& db = plan.services.front();
  const Node& s1 = plan.inventory.nodes.front();
  CHECK_FALSE(read_member_record(plan, db, s1));
  REQUIRE(write_member_record(plan, db, s1, {"existing", {{"s0", "10.0.0.9"}, {"s1", "10.0.0.1"}}}));
  auto record = read_member_record(plan, db, s1);
  REQUIRE(record);
  CHECK(record->state == "existing");
  CHECK(record->members == std::vector<Member>{{"s0", "10.0.0.9"}, {"s1", "10.0.0.1"}});
  CHECK(member_record_path(plan, db, s1) == plan.output_dir / "members" / "db" / "s1");
  CHECK(with_member("add @member@ @member_address@", {"s 1", "[fd00::1]"}) == "add 's 1' 'fd00::1'");
}
