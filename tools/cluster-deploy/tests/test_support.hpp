// Shared test inputs: a two-service plan over tests/data/inv, rendered into a temp folder.
#pragma once

#include "inventory_source.hpp"
#include "plan.hpp"

#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

namespace deploy::testing {

inline std::filesystem::path scratch_dir(const std::string& name)
{
  auto dir = std::filesystem::temp_directory_path() / ("cd-test-" + name);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

/// Writes <dir>/inv/{servers,workers}.txt and the programs <dir>/db and <dir>/worker.
inline void write_inventory(const std::filesystem::path& dir, const std::string& servers, const std::string& workers)
{
  std::filesystem::create_directories(dir / "inv");
  std::ofstream(dir / "inv/servers.txt") << servers;
  std::ofstream(dir / "inv/workers.txt") << workers;
  std::ofstream(dir / "db") << "db v1";
  std::ofstream(dir / "worker") << "worker v1";
}

/// Parses plan XML and joins it with the inventory in `inventory_dir`.
inline Plan plan_with_inventory(const std::string& xml, const std::filesystem::path& inventory_dir)
{
  auto plan = parse_plan(xml, "plan.xml");
  REQUIRE(plan);
  auto inventory = read_inventory(inventory_dir);
  REQUIRE(inventory);
  plan->inventory = *inventory;
  return *plan;
}

/// A plan with `db` (servers, bootstrap, http health) and `worker` (workers, AFTER db).
inline Plan example_plan(const std::string& name)
{
  auto dir = scratch_dir(name);
  std::ofstream(dir / "db") << "db binary v1";
  std::ofstream(dir / "worker") << "worker binary v1";
  std::filesystem::copy(CD_TEST_DATA "/tpl", dir / "tpl");
  std::string xml = "<plan version='1' cluster='demo' inventory='" CD_TEST_DATA "/inv' output='" +
                    (dir / "out").string() +
                    "'><ssh config='' known-hosts='' host-key-policy='strict' parallel='4'/>"
                    "<service name='worker' group='workers'><program>" +
                    (dir / "worker").string() +
                    "</program><arg>--config</arg><arg>@etc@/worker.conf</arg>"
                    "<config template='" +
                    (dir / "tpl/worker.conf.in").string() +
                    "' name='worker.conf'/>"
                    "<health kind='exec' command='test -s @data_dir@/registered'/><after>db</after></service>"
                    "<service name='db' group='servers' bootstrap='true'><program>" +
                    (dir / "db").string() + "</program><arg>--name=@node@</arg><config template='" +
                    (dir / "tpl/db.conf.in").string() +
                    "' name='db.conf'/><env name='GOMAXPROCS' value='2'/>"
                    "<health kind='http' port='2379' path='/health'/></service></plan>";
  auto plan = parse_plan(xml, "plan.xml");
  REQUIRE(plan);
  auto inventory = read_inventory(CD_TEST_DATA "/inv");
  REQUIRE(inventory);
  plan->inventory = *inventory;
  return *plan;
}

/// Runs `task` with stdout going to a file; returns what it printed.
inline std::string capture_stdout(const std::function<void()>& task)
{
  auto file = scratch_dir("stdout") / "stdout";
  std::fflush(stdout);
  int saved = dup(STDOUT_FILENO);
  REQUIRE(std::freopen(file.c_str(), "w", stdout));
  task();
  std::fflush(stdout);
  dup2(saved, STDOUT_FILENO);
  close(saved);
  std::ostringstream text;
  text << std::ifstream(file).rdbuf();
  return text.str();
}

/// Every node and every service of a plan: what a command run without filters selects.
struct Run {
  std::vector<const Node*> nodes;
  std::vector<const Service*> services;
};

inline Run everything(const Plan& plan)
{
  Run run;
  for (const auto& node : plan.inventory.nodes) {
    run.nodes.push_back(&node);
  }
  for (const auto& service : plan.services) {
    run.services.push_back(&service);
  }
  return run;
}

} // namespace deploy::testing
