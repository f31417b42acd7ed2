#include "membership.hpp"

#include "quote.hpp"

#include <algorithm>
#include <fstream>
#include <sstream>

namespace deploy {
namespace {

bool same_member(const Member& a, const Member& b)
{
  return (a.name != "-" && a.name == b.name) || (!a.address.empty() && bare_address(a.address) == bare_address(b.address));
}

} // namespace

Result<std::vector<Member>> parse_members(std::string_view text)
{
  std::vector<Member> members;
  std::istringstream lines{std::string(text)};
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream words(line);
    Member member;
    std::string extra;
    if (!(words >> member.name)) {
      continue;
    }
    words >> member.address;
    if (words >> extra) {
      return fail("MEMBERS printed '" + line + "': expected one member a line, \"name [address]\"");
    }
    members.push_back(member);
  }
  return members;
}

const Node* node_of(const Plan& plan, const Service& service, const Member& member)
{
  for (const Node* node : plan.inventory.group(service.group)) {
    if (same_member(member, Member{node->name, node->address})) {
      return node;
    }
  }
  return nullptr;
}

Result<MemberChanges> member_changes(const Plan& plan, const Service& service, std::vector<Member> members,
                                     const std::string& leader)
{
  MemberChanges changes;
  std::size_t staying = 0;
  for (auto& member : members) {
    if (const Node* node = node_of(plan, service, member)) {
      member = Member{node->name, member.address.empty() ? node->address : member.address};
      ++staying;
    } else {
      changes.leaves.push_back(member);
    }
  }
  changes.members = members;
  for (const Node* node : plan.inventory.group(service.group)) {
    if (std::none_of(members.begin(), members.end(), [&](const Member& m) { return m.name == node->name; })) {
      changes.joins.push_back(node);
    }
  }
  std::stable_partition(changes.leaves.begin(), changes.leaves.end(),
                        [&](const Member& m) { return !same_member(m, Member{leader, leader}); });
  std::string group = service.name + "'s group";
  if (!changes.joins.empty() && service.join.empty()) {
    return fail(changes.joins.front()->name + " is in group " + service.group + " of the inventory but not a member of " +
                group + ", and " + service.name + " has no JOIN hook to add it");
  }
  if (!changes.leaves.empty() && service.leave.empty()) {
    return fail(changes.leaves.front().name + " is a member of " + group + " but in no node of group " + service.group +
                " of the inventory, and " + service.name + " has no LEAVE hook to remove it");
  }
  std::size_t majority = members.size() / 2 + 1;
  if (!changes.leaves.empty() && staying < majority) {
    return fail("removing " + std::to_string(changes.leaves.size()) + " of the " + std::to_string(members.size()) +
                " members of " + group + " in one deploy would leave " + std::to_string(staying) +
                ", fewer than a majority of " + std::to_string(members.size()) + ": remove at most " +
                std::to_string(members.size() - majority) + " per deploy (nothing was changed)");
  }
  return changes;
}

std::vector<Member> members_at_join(const MemberChanges& changes, std::size_t k)
{
  std::vector<Member> members = changes.members;
  if (changes.leaves_first) { // they are gone by then
    std::erase_if(members, [&](const Member& m) {
      return std::find(changes.leaves.begin(), changes.leaves.end(), m) != changes.leaves.end();
    });
  }
  for (std::size_t i = 0; i <= k && i < changes.joins.size(); ++i) {
    members.push_back(Member{changes.joins[i]->name, changes.joins[i]->address});
  }
  return members;
}

std::filesystem::path member_record_path(const Plan& plan, const Service& service, const Node& node)
{
  return plan.output_dir / "members" / service.name / node.name;
}

std::optional<MemberRecord> read_member_record(const Plan& plan, const Service& service, const Node& node)
{
  std::ifstream file(member_record_path(plan, service, node));
  std::string key;
  MemberRecord record;
  if (!(file >> key >> record.state) || key != "state" || (record.state != "new" && record.state != "existing")) {
    return std::nullopt;
  }
  std::stringstream rest;
  rest << file.rdbuf();
  auto members = parse_members(rest.str());
  if (!members || members->empty()) {
    return std::nullopt;
  }
  record.members = *members;
  return record;
}

Result<void> write_member_record(const Plan& plan, const Service& service, const Node& node,
                                 const MemberRecord& record)
{
  auto path = member_record_path(plan, service, node);
  std::error_code ec;
  std::filesystem::create_directories(path.parent_path(), ec);
  std::ofstream file(path, std::ios::trunc);
  file << "state " << record.state << '\n';
  for (const auto& member : record.members) {
    file << member.name << ' ' << member.address << '\n';
  }
  if (!file.flush()) {
    return fail("cannot write " + path.string());
  }
  return {};
}

Result<void> record_removed(const Plan& plan, const Service& service, const Member& member)
{
  Node node;
  node.name = member.name;
  return write_member_record(plan, service, node, MemberRecord{"removed", {member}});
}

std::vector<Member> removed_members(const Plan& plan, const Service& service)
{
  std::vector<Member> removed;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(plan.output_dir / "members" / service.name, ec)) {
    std::ifstream file(entry.path());
    std::string key, state;
    if (!(file >> key >> state) || key != "state" || state != "removed") {
      continue;
    }
    std::stringstream rest;
    rest << file.rdbuf();
    auto members = parse_members(rest.str());
    if (members && !members->empty()) {
      removed.push_back(members->front());
    }
  }
  std::sort(removed.begin(), removed.end(), [](const Member& a, const Member& b) { return a.name < b.name; });
  return removed;
}

std::string with_member(const std::string& hook, const Member& member)
{
  return replace_all(replace_all(hook, "@member_address@", shell_quote(bare_address(member.address))), "@member@",
                     shell_quote(member.name));
}

} // namespace deploy
