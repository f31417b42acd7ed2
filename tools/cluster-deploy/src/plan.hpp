// The plan: what CMake wrote (services, templates, ssh settings) joined with the
// inventory. Everything the helper does starts from a validated Plan.
#pragma once

#include "error.hpp"
#include "inventory.hpp"
#include "transport.hpp"

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
  int serial = 0;                                          ///< > 0: restart at most this many nodes at a time (rolling)
  std::vector<std::pair<std::string, std::string>> limits; ///< systemd resource settings (LIMITS)
};

struct SshSettings {
  std::filesystem::path config;
  std::filesystem::path known_hosts;
  HostKeyPolicy host_key_policy = HostKeyPolicy::strict;
  int parallel = 64;
};

struct Plan {
  std::string cluster;
  std::filesystem::path inventory_dir;
  std::filesystem::path output_dir; ///< rendered files go to <output>/<node>/
  SshSettings ssh;
  std::vector<Service> services; ///< in start order (AFTER respected)
  Inventory inventory;

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
