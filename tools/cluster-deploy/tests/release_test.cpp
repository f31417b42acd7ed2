#include "release.hpp"
#include "test_support.hpp"

#include <algorithm>
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
  ProgramCache cache;
  auto release = render_node(plan, *plan.inventory.find("server1"), cache);
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
  CHECK(cache.hashes.size() == 1);
  ProgramCache fresh;
  auto again = render_node(plan, *plan.inventory.find("server1"), fresh);
  CHECK(again->id == release->id);
  CHECK(render_node(plan, *plan.inventory.find("server2"), cache)->id != release->id);
}

TEST_CASE("a command template error stops the render, before any node is changed")
{
  Plan plan = testing::example_plan("render-bad-health");
  for (auto& service : plan.services) {
    if (service.name == "worker") {
      service.health.command = "test -s @data_dri@/registered"; // a typo
    }
  }
  ProgramCache cache;
  auto release = render_node(plan, *plan.inventory.find("worker1"), cache);
  REQUIRE_FALSE(release);
  CHECK(release.error() == "service worker HEALTH:1: unknown template variable @data_dri@ (node worker1)");
  CHECK(render_node(plan, *plan.inventory.find("server1"), cache)); // db has no such command
}

TEST_CASE("a release lists what its programs need from the node - BUNDLE_LIBS ships the libraries")
{
  Plan plan = testing::example_plan("render-bundle");
  std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe"); // links libssh, libstdc++
  for (auto& service : plan.services) {
    service.program = self;
  }
  ProgramCache cache;
  auto plain = render_node(plan, *plan.inventory.find("server1"), cache);
  REQUIRE(plain);
  REQUIRE(plain->programs.size() == 1);
  const ProgramNeeds& needs = plain->programs[0].needs;
  CHECK(plain->programs[0].path == "bin/" + self.filename().string());
  CHECK(needs.machine == 62); // this machine: x86-64
  CHECK(needs.interpreter.starts_with("/lib"));
  auto needed = [](const NodeRelease& release, const std::string& soname) {
    for (const auto& library : release.programs[0].needs.libraries) {
      if (library.soname == soname) {
        return &library;
      }
    }
    return static_cast<const LibraryNeed*>(nullptr);
  };
  REQUIRE(needed(*plain, "libc.so.6"));
  CHECK(std::any_of(needed(*plain, "libc.so.6")->versions.begin(), needed(*plain, "libc.so.6")->versions.end(),
                    [](const std::string& v) { return v.starts_with("GLIBC_2."); }));
  CHECK(needed(*plain, "libssh.so.4"));

  for (auto& service : plan.services) {
    service.bundle_libs = true;
  }
  auto bundled = render_node(plan, *plan.inventory.find("server1"), cache);
  REQUIRE(bundled);
  std::vector<std::string> libs;
  for (const auto& file : bundled->files) {
    if (file.path.starts_with("lib/db/")) {
      libs.push_back(file.path);
      CHECK(file.services == std::vector<std::string>{"db"});
    }
  }
  CHECK(std::find(libs.begin(), libs.end(), "lib/db/libssh.so.4") != libs.end());
  CHECK(std::find(libs.begin(), libs.end(), "lib/db/libc.so.6") == libs.end()); // glibc is the node's
  CHECK_FALSE(needed(*bundled, "libssh.so.4"));                                // shipped: not asked of the node
  CHECK(needed(*bundled, "libc.so.6"));
  CHECK(bundled->programs.size() == libs.size() + 1); // the shipped libraries are checked too
  CHECK(read(plan.output_dir / "server1/units/demo-db.service")
            .find("Environment=\"LD_LIBRARY_PATH=/opt/demo/current/lib/db\"\n") != std::string::npos);
  CHECK(bundled->id != plain->id);
}
