#include "plan.hpp"

#include "inventory_source.hpp"
#include "quote.hpp"

#include <tinyxml2.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

namespace deploy {
namespace {

/// Refuses a control character in any attribute or text of `element` and its children,
/// naming the plan's line: it would end up in a shell word, a unit or a config.
Result<void> refuse_control_characters(const tinyxml2::XMLElement* element, const std::string& file)
{
  auto where = [&](const std::string& what) {
    return file + ":" + std::to_string(element->GetLineNum()) + ": <" + element->Name() + "> " + what;
  };
  for (const tinyxml2::XMLAttribute* a = element->FirstAttribute(); a; a = a->Next()) {
    if (auto control = control_character_in(a->Value()); !control.empty()) {
      return fail(where(std::string(a->Name()) + ": control character " + control));
    }
  }
  if (const char* text = element->GetText()) {
    if (auto control = control_character_in(text); !control.empty()) {
      return fail(where("control character " + control));
    }
  }
  for (auto* child = element->FirstChildElement(); child; child = child->NextSiblingElement()) {
    CD_TRY_VOID(refuse_control_characters(child, file));
  }
  return {};
}

using tinyxml2::XMLElement;

std::string attribute(const XMLElement* element, const char* name)
{
  const char* value = element->Attribute(name);
  return value ? value : "";
}

std::string text_of(const XMLElement* element)
{
  const char* text = element->GetText();
  return text ? text : "";
}

Result<Health> parse_health(const XMLElement* element, const std::string& where)
{
  Health health;
  if (!element) {
    return health;
  }
  std::string kind = attribute(element, "kind");
  health.port = element->IntAttribute("port", 0);
  health.path = attribute(element, "path");
  health.command = attribute(element, "command");
  if (kind == "tcp" || kind == "http") {
    health.kind = kind == "tcp" ? Health::Kind::tcp : Health::Kind::http;
    if (health.port < 1 || health.port > 65535) {
      return fail(where + ": health port must be 1-65535");
    }
    if (health.kind == Health::Kind::http && (health.path.empty() || health.path.front() != '/')) {
      return fail(where + ": http health path must start with /");
    }
  } else if (kind == "exec") {
    health.kind = Health::Kind::exec;
    if (health.command.empty()) {
      return fail(where + ": exec health needs a command");
    }
  } else {
    return fail(where + ": unknown health kind '" + kind + "' (tcp, http or exec)");
  }
  return health;
}

/// The systemd settings LIMITS may set (checked by the CMake module too).
bool is_limit_setting(const std::string& name)
{
  static const std::set<std::string> known = {
      "MemoryMin", "MemoryLow",   "MemoryHigh", "MemoryMax", "MemorySwapMax", "CPUQuota",   "CPUWeight", "IOWeight",
      "TasksMax",  "LimitNOFILE", "LimitNPROC", "LimitCORE", "LimitMEMLOCK",  "LimitSTACK", "LimitAS",   "LimitFSIZE",
      "AllowedCPUs", "StartupAllowedCPUs"};
  return known.count(name) != 0;
}

/// bundle-libs: absent (nothing ships), "true" (BUNDLE_LIBS) or "all" (BUNDLE_LIBS ALL).
Result<Service::Bundle> parse_bundle(const std::string& value, const std::string& where)
{
  if (value.empty()) {
    return Service::Bundle::none;
  }
  if (value == "true") {
    return Service::Bundle::libraries;
  }
  if (value == "all") {
    return Service::Bundle::all;
  }
  return fail(where + ": bundle-libs must be true or all, not '" + value + "'");
}

/// SERIAL, MAX_FAIL, CANARY and SETTLE of a service element.
Result<void> parse_rollout_settings(const XMLElement* element, const std::string& where, Service& service)
{
  for (auto [field, name] : {std::pair{&service.serial, "serial"}, std::pair{&service.max_fail, "max-fail"}}) {
    CD_TRY(amount, parse_amount(attribute(element, name), where + ": " + name));
    *field = *amount;
  }
  service.canary = std::max(element->IntAttribute("canary", 0), 0);
  if (element->Attribute("settle")) {
    service.settle = element->IntAttribute("settle", -1);
    if (service.settle < 0 || service.settle > 600) {
      return fail(where + ": settle must be 0 to 600 seconds");
    }
  }
  return {};
}

/// QUORUM, LEADER, MEMBERS, JOIN, LEAVE and TRANSFER: commands run on a node of the group.
Result<void> parse_group_hooks(const XMLElement* element, const std::string& where, Service& service)
{
  for (auto [name, field] : {std::pair{"quorum", &service.quorum}, std::pair{"leader", &service.leader},
                             std::pair{"members", &service.members}, std::pair{"join", &service.join},
                             std::pair{"leave", &service.leave}, std::pair{"transfer", &service.transfer}}) {
    if (const XMLElement* hook = element->FirstChildElement(name)) {
      *field = attribute(hook, "command");
      if (field->empty()) {
        std::string keyword = name;
        std::transform(keyword.begin(), keyword.end(), keyword.begin(), ::toupper);
        return fail(where + ": " + keyword + " exec needs a command");
      }
    }
  }
  if ((!service.join.empty() || !service.leave.empty()) && service.members.empty()) {
    return fail(where + ": JOIN and LEAVE need MEMBERS");
  }
  if (!service.transfer.empty() && (service.leave.empty() || service.leader.empty())) {
    return fail(where + ": TRANSFER needs LEAVE and LEADER");
  }
  return {};
}

Result<Service> parse_service(const XMLElement* element, const std::string& file)
{
  Service service;
  service.name = attribute(element, "name");
  std::string where = file + ": service '" + service.name + "'";
  if (!is_cluster_or_service_name(service.name)) {
    return fail(where + ": bad service name");
  }
  service.group = attribute(element, "group");
  service.bootstrap = attribute(element, "bootstrap") == "true";
  CD_TRY(bundle, parse_bundle(attribute(element, "bundle-libs"), where));
  service.bundle_libs = *bundle;
  CD_TRY_VOID(parse_rollout_settings(element, where, service));
  if (const XMLElement* program = element->FirstChildElement("program")) {
    service.program = text_of(program);
  }
  if (service.program.empty()) {
    return fail(where + ": no program");
  }
  for (auto* e = element->FirstChildElement("arg"); e; e = e->NextSiblingElement("arg")) {
    service.args.push_back(text_of(e));
  }
  for (auto* e = element->FirstChildElement("config"); e; e = e->NextSiblingElement("config")) {
    ConfigTemplate config{attribute(e, "template"), attribute(e, "name")};
    if (!is_safe_name(config.name)) {
      return fail(where + ": bad config file name '" + config.name + "'");
    }
    service.configs.push_back(config);
  }
  for (auto* e = element->FirstChildElement("env"); e; e = e->NextSiblingElement("env")) {
    service.env.emplace_back(attribute(e, "name"), attribute(e, "value"));
  }
  for (auto* e = element->FirstChildElement("limit"); e; e = e->NextSiblingElement("limit")) {
    std::string name = attribute(e, "name"), value = attribute(e, "value");
    if (!is_limit_setting(name) || value.empty() ||
        value.find_first_not_of("0123456789.%:KMGTPEinfty,-") != std::string::npos) {
      return fail(where + ": bad limit '" + name + "=" + value + "'");
    }
    service.limits.emplace_back(name, value);
  }
  for (auto* e = element->FirstChildElement("after"); e; e = e->NextSiblingElement("after")) {
    service.after.push_back(text_of(e));
  }
  CD_TRY(health, parse_health(element->FirstChildElement("health"), where));
  service.health = *health;
  CD_TRY_VOID(parse_group_hooks(element, where, service));
  return service;
}

Result<void> check_against_inventory(const Plan& plan)
{
  for (const auto& service : plan.services) {
    if (plan.inventory.group(service.group).empty()) {
      return fail("service " + service.name + ": group '" + service.group + "' has no nodes in " +
                  plan.inventory_dir.string());
    }
  }
  return {};
}

Result<void> check_files(const Plan& plan)
{
  std::error_code ec;
  std::map<std::string, std::string> binary_owner;
  for (const auto& service : plan.services) {
    if (!std::filesystem::is_regular_file(service.program, ec)) {
      return fail("service " + service.name + ": program " + service.program.string() +
                  " does not exist (build it first)");
    }
    auto name = service.program.filename().string();
    auto [it, inserted] = binary_owner.emplace(name, service.program.string());
    if (!inserted && it->second != service.program.string()) {
      return fail("service " + service.name + ": program name " + name + " is used by two different files");
    }
    for (const auto& config : service.configs) {
      if (!std::filesystem::is_regular_file(config.source, ec)) {
        return fail("service " + service.name + ": config template " + config.source.string() + " does not exist");
      }
    }
  }
  return {};
}

} // namespace

Result<Amount> parse_amount(std::string_view text, const std::string& what)
{
  Amount amount;
  if (text.empty()) {
    return amount;
  }
  bool percent = text.back() == '%';
  std::string digits(percent ? text.substr(0, text.size() - 1) : text);
  if (digits.empty() || digits.size() > 6 || digits.find_first_not_of("0123456789") != std::string::npos) {
    return fail(what + ": '" + std::string(text) + "' is not a number of nodes or a percentage");
  }
  int value = std::stoi(digits);
  if (percent && value > 100) {
    return fail(what + ": '" + std::string(text) + "' is more than 100%");
  }
  (percent ? amount.percent : amount.count) = value;
  return amount;
}

const Service* Plan::find_service(std::string_view name) const
{
  for (const auto& service : services) {
    if (service.name == name) {
      return &service;
    }
  }
  return nullptr;
}

std::vector<const Service*> Plan::services_on(const Node& node) const
{
  std::vector<const Service*> result;
  for (const auto& service : services) {
    if (service.group == node.group) {
      result.push_back(&service);
    }
  }
  return result;
}

Result<std::vector<Service>> order_services(std::vector<Service> services)
{
  std::set<std::string> known;
  for (const auto& service : services) {
    if (!known.insert(service.name).second) {
      return fail("service " + service.name + " is declared twice");
    }
  }
  for (const auto& service : services) {
    for (const auto& dependency : service.after) {
      if (known.count(dependency) == 0) {
        return fail("service " + service.name + ": AFTER names unknown service '" + dependency + "'");
      }
    }
  }
  std::vector<Service> ordered;
  std::set<std::string> placed;
  while (!services.empty()) {
    auto ready = std::find_if(services.begin(), services.end(), [&](const Service& s) {
      return std::all_of(s.after.begin(), s.after.end(), [&](const std::string& d) { return placed.count(d) != 0; });
    });
    if (ready == services.end()) {
      return fail("services " + services.front().name + " and others wait for each other (AFTER cycle)");
    }
    placed.insert(ready->name);
    ordered.push_back(std::move(*ready));
    services.erase(ready);
  }
  return ordered;
}

Result<Plan> parse_plan(std::string_view xml, const std::string& file)
{
  tinyxml2::XMLDocument document;
  if (document.Parse(xml.data(), xml.size()) != tinyxml2::XML_SUCCESS) {
    return fail(file + ":" + std::to_string(document.ErrorLineNum()) + ": malformed plan: " + document.ErrorStr());
  }
  const XMLElement* root = document.FirstChildElement("plan");
  if (!root || root->IntAttribute("version", 0) != 1) {
    return fail(file + ": not a version 1 ClusterDeploy plan");
  }
  CD_TRY_VOID(refuse_control_characters(root, file));
  Plan plan;
  plan.cluster = attribute(root, "cluster");
  if (!is_cluster_or_service_name(plan.cluster)) {
    return fail(file + ": bad cluster name '" + plan.cluster + "'");
  }
  plan.inventory_dir = attribute(root, "inventory");
  plan.output_dir = attribute(root, "output");
  plan.faults_allowed = attribute(root, "faults") == "allowed" || attribute(root, "faults") == "corrupt";
  plan.corrupt_allowed = attribute(root, "faults") == "corrupt";
  if (const XMLElement* ssh = root->FirstChildElement("ssh")) {
    plan.ssh.config = attribute(ssh, "config");
    plan.ssh.known_hosts = attribute(ssh, "known-hosts");
    plan.ssh.host_key_policy =
        attribute(ssh, "host-key-policy") == "accept-new" ? HostKeyPolicy::accept_new : HostKeyPolicy::strict;
    plan.ssh.parallel = std::clamp(ssh->IntAttribute("parallel", 64), 1, 1024);
    if (const char* fan_out = ssh->Attribute("fan-out")) {
      plan.ssh.fan_out = fan_out;
      if (plan.ssh.fan_out != "auto" && plan.ssh.fan_out != "on" && plan.ssh.fan_out != "off") {
        return fail(file + ": fan-out must be auto, on or off, not '" + plan.ssh.fan_out + "'");
      }
    }
  }
  std::vector<Service> services;
  for (auto* e = root->FirstChildElement("service"); e; e = e->NextSiblingElement("service")) {
    CD_TRY(service, parse_service(e, file));
    services.push_back(std::move(*service));
  }
  auto ordered = order_services(std::move(services));
  if (!ordered) {
    return fail(file + ": " + ordered.error());
  }
  plan.services = std::move(*ordered);
  return plan;
}

Result<Plan> load_plan(const std::filesystem::path& file)
{
  std::ifstream in(file);
  if (!in) {
    return fail("cannot read plan " + file.string() + " (configure the project first)");
  }
  std::stringstream text;
  text << in.rdbuf();
  auto plan = parse_plan(text.str(), file.string());
  if (!plan) {
    return plan;
  }
  CD_TRY(inventory, read_inventory(plan->inventory_dir));
  plan->inventory = std::move(*inventory);
  CD_TRY_VOID(check_against_inventory(*plan));
  CD_TRY_VOID(check_files(*plan));
  return plan;
}

} // namespace deploy
