#include "release.hpp"
#include "test_support.hpp"

#include <sstream>

using namespace deploy;

namespace {

std::string read(const std::filesystem::path& path)
{
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

} // namespace

TEST_CASE("render_node writes each node's files and derives a content release id")
{
  Plan plan = testing::example_plan("render-node");
  ProgramHashes hashes;
  auto release = render_node(plan, *plan.inventory.find("server1"), hashes);
  REQUIRE(release);
  std::vector<std::string> paths;
  for (const auto& file : release->files) {
    paths.push_back(file.path);
  }
  CHECK(paths ==
        std::vector<std::string>{"bin/db", "etc/db/cluster-deploy.env", "etc/db/db.conf", "units/demo-db.service"});
  // Rendered files may hold secrets: the user's alone.
  auto mode = std::filesystem::status(plan.output_dir / "server1/etc/db/db.conf").permissions();
  CHECK((mode & std::filesystem::perms::mask) ==
        (std::filesystem::perms::owner_read | std::filesystem::perms::owner_write));
  CHECK(read(plan.output_dir / "server1/etc/db/db.conf") ==
        "name=server1\ncluster=server1=http://10.0.0.1:2380,server2=http://10.0.0.2:2380\nboot=true\n");
  CHECK(release->manifest.find("  etc/db/db.conf\n") != std::string::npos);
  CHECK(hashes.size() == 1);
  ProgramHashes fresh;
  auto again = render_node(plan, *plan.inventory.find("server1"), fresh);
  CHECK(again->id == release->id);
  CHECK(render_node(plan, *plan.inventory.find("server2"), hashes)->id != release->id);
}

TEST_CASE("a command template error stops the render, before any node is changed")
{
  Plan plan = testing::example_plan("render-bad-health");
  for (auto& service : plan.services) {
    if (service.name == "worker") {
      service.health.command = "test -s @data_dri@/registered"; // a typo
    }
  }
  ProgramHashes hashes;
  auto release = render_node(plan, *plan.inventory.find("worker1"), hashes);
  REQUIRE_FALSE(release);
  CHECK(release.error() == "service worker HEALTH:1: unknown template variable @data_dri@ (node worker1)");
  CHECK(render_node(plan, *plan.inventory.find("server1"), hashes)); // db has no such command
}
