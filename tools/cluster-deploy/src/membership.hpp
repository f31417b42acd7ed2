// The members of a group with member hooks (MEMBERS, JOIN, LEAVE): what the group itself
// says, compared with the inventory, the changes a deploy makes and their order, and the
// record of whom a node joined with (what its configs see as @members:...@).
#pragma once

#include "error.hpp"
#include "plan.hpp"

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace deploy {

/// A member as the group names it: its node name ("-" when the group knows only its
/// address) and its address (may be empty).
struct Member {
  std::string name;
  std::string address;
  bool operator==(const Member&) const = default;
};

/// What a deploy changes in one group: who joins (inventory order, one at a time), who
/// leaves (the leader last), and the group as it answered.
struct MemberChanges {
  std::vector<Member> members;     ///< the group before the deploy
  std::vector<const Node*> joins;  ///< inventory nodes the group does not have
  std::vector<Member> leaves;      ///< members no node of the inventory is
  std::string asked;               ///< the node whose MEMBERS answer this is
  /// The leaves go first, before the joins and the rollout: the group is not whole (a member
  /// that leaves is dead), so no restart may wait for it, and adding to it first would cost
  /// it its majority until the new member caught up.
  bool leaves_first = false;
};

/// MEMBERS output: one member a line, "name [address]"; blank lines are skipped.
Result<std::vector<Member>> parse_members(std::string_view text);

/// The inventory node a member is (same name, or same address), or nullptr.
const Node* node_of(const Plan& plan, const Service& service, const Member& member);

/// Compares the group with its inventory group. Refused: a node to join without JOIN, a
/// member to remove without LEAVE, and leaving fewer than a majority of the current members.
/// `leader` (a member's name or address, may be empty) leaves last.
Result<MemberChanges> member_changes(const Plan& plan, const Service& service, std::vector<Member> members,
                                     const std::string& leader);

/// The members `joins[k]` joins with: the group as it answered (without the leaving ones
/// when they leave first), then joins[0..k].
std::vector<Member> members_at_join(const MemberChanges& changes, std::size_t k);

/// How a node became a member: with the group (state "new": it was founded with these
/// members) or later (state "existing": it joined these members). What its configs see as
/// @member_state@ and @members:...@, kept so that they stay the same while it is a member.
struct MemberRecord {
  std::string state;
  std::vector<Member> members;
};

/// <output>/members/<service>/<node>: "state new|existing", then "name address" lines.
std::filesystem::path member_record_path(const Plan& plan, const Service& service, const Node& node);
std::optional<MemberRecord> read_member_record(const Plan& plan, const Service& service, const Node& node);
Result<void> write_member_record(const Plan& plan, const Service& service, const Node& node,
                                 const MemberRecord& record);

/// A member that left the group through a deploy: its record says "state removed" and names
/// it, so that status can say where its data was left. A node that joins again gets a
/// record of its new membership instead.
Result<void> record_removed(const Plan& plan, const Service& service, const Member& member);
std::vector<Member> removed_members(const Plan& plan, const Service& service);

/// A member hook (JOIN, LEAVE) with @member@ and @member_address@ of `member`, each one
/// shell word.
std::string with_member(const std::string& hook, const Member& member);

} // namespace deploy
