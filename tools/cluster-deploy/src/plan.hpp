// The plan: what CMake wrote (services, templates, ssh settings) joined with the
// inventory. Everything the helper does starts from a validated Plan.
#pragma once

#include "error.hpp"
#include "host_key_policy.hpp"
#include "inventory.hpp"

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace deploy {

struct Health {
  enum class Kind { none, tcp, http, exec };
  Kind kind = Kind::none;
  int port = 0;
  std::string path;    ///< http
  std::string command; ///< exec (a template)
};

/// A number of nodes, given as a count ("2") or a share of the nodes ("25%").
struct Amount {
  int count = 0;
  int percent = 0; ///< > 0: a share of the nodes, rounded up

  bool given() const { return count > 0 || percent > 0; }
  /// The number of nodes out of `nodes`.
  int of(int nodes) const { return percent > 0 ? (nodes * percent + 99) / 100 : count; }
};

/// Parses "<n>" or "<n>%" (n >= 0, percent <= 100); fails naming `what`.
Result<Amount> parse_amount(std::string_view text, const std::string& what);

struct ConfigTemplate {
  std::filesystem::path source;
  std::string name; ///< file name on the node, in the service's etc folder
};

struct Service {
  std::string name;
  std::string group;
  std::filesystem::path program;
  std::vector<std::string> args; ///< templates
  std::vector<ConfigTemplate> configs;
  std::vector<std::pair<std::string, std::string>> env; ///< values are templates
  Health health;
  std::vector<std::string> after;
  bool bootstrap = false;
  Amount serial;   ///< given: restart running instances this many nodes at a time (rolling)
  int canary = 0;  ///< > 0: the first batch of a roll has this many nodes
  Amount max_fail; ///< failed nodes a roll tolerates (each rolled back) before it stops
  /// Settle window of an instance this run (re)starts (SETTLE); negative: the run's default.
  int settle = -1;
  /// A command (template) that must pass on one healthy node of the group after each
  /// batch: the whole group is back (QUORUM exec). Empty when there is none.
  std::string quorum;
  /// A command (template) run on one node of the group that prints the name or
  /// address of the group's leader (LEADER exec); empty when there is none.
  std::string leader;
  /// Member hooks (templates, run as the service user on a member of the group): MEMBERS
  /// prints the members the group knows ("name [address]" lines), JOIN announces a new
  /// member before its first start, LEAVE removes one (@member@, @member_address@), TRANSFER
  /// moves leadership to the member it runs on before the leader leaves. Empty when not
  /// declared; JOIN and LEAVE need MEMBERS, TRANSFER needs LEAVE and LEADER.
  std::string members;
  std::string join;
  std::string leave;
  std::string transfer;
  std::vector<std::pair<std::string, std::string>> limits; ///< systemd resource settings (LIMITS)
  /// What ships with the program (BUNDLE_LIBS): for nodes that lack its libraries or
  /// have an older glibc.
  enum class Bundle {
    none,      ///< nothing: the node's libraries (plan: no bundle-libs)
    libraries, ///< the shared libraries it loads, except glibc's (BUNDLE_LIBS; plan: "true")
    all,       ///< its whole closure and the loader, which starts it (BUNDLE_LIBS ALL; plan: "all")
  };
  Bundle bundle_libs = Bundle::none;

  /// A Raft-like group (QUORUM or LEADER declared): never more members down at once
  /// than it can lose, floor((n-1)/2) (at least one).
  bool is_quorum_group() const { return !quorum.empty() || !leader.empty(); }
};

struct SshSettings {
  std::filesystem::path config;
  std::filesystem::path known_hosts;
  HostKeyPolicy host_key_policy = HostKeyPolicy::strict;
  int parallel = 64;
  std::string fan_out = "auto"; ///< auto, on or off (fan_out.hpp); deploy --fan-out overrides it
};

struct Plan {
  std::string cluster;
  std::filesystem::path inventory_dir;
  std::filesystem::path output_dir; ///< rendered files go to <output>/<node>/
  SshSettings ssh;
  std::vector<Service> services; ///< in start order (AFTER respected)
  Inventory inventory;
  /// `fault` may act on this inventory (the local cluster, or FAULTS in the project).
  bool faults_allowed = false;
  bool corrupt_allowed = false; ///< CORRUPT_FAULTS (or LOCAL_CLUSTER): `fault corrupt` may destroy data

  const Service* find_service(std::string_view name) const;
  /// The services that run on `node` (those of its group), in start order.
  std::vector<const Service*> services_on(const Node& node) const;
};

/// Parses plan XML text (no inventory, no file checks). `file` names it in errors.
Result<Plan> parse_plan(std::string_view xml, const std::string& file);

/// Orders services so that every service comes after those in its AFTER list.
/// Fails naming an unknown service or a cycle.
Result<std::vector<Service>> order_services(std::vector<Service> services);

/// Reads the plan file and its inventory and checks them together: groups exist,
/// AFTER names are known, programs and templates exist.
Result<Plan> load_plan(const std::filesystem::path& file);

} // namespace deploy
