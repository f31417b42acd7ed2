#include "release.hpp"

#include "changes.hpp"
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
  CHECK(needs.machine == 62); // the controller: x86-64
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
    service.bundle_libs = Service::Bundle::libraries;
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
  CHECK_FALSE(needed(*bundled, "libssh.so.4"));                                 // shipped: not asked of the node
  CHECK(needed(*bundled, "libc.so.6"));
  CHECK(bundled->programs.size() == libs.size() + 1); // the shipped libraries are checked too
  CHECK(read(plan.output_dir / "server1/units/demo-db.service")
            .find("Environment=\"LD_LIBRARY_PATH=/opt/demo/current/lib/db\"\n") != std::string::npos);
  CHECK(bundled->id != plain->id);
}

TEST_CASE("BUNDLE_LIBS ALL ships the whole closure, glibc and the loader included, and asks the node for neither")
{
  Plan plan = testing::example_plan("render-bundle-all");
  std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe"); // links libssh, libstdc++, libc
  for (auto& service : plan.services) {
    service.program = self;
    service.bundle_libs = Service::Bundle::all;
  }
  ProgramCache cache;
  auto release = render_node(plan, *plan.inventory.find("server1"), cache);
  REQUIRE(release);
  auto file = [&](const std::string& path) {
    auto found = std::find_if(release->files.begin(), release->files.end(),
                              [&](const ReleaseFile& f) { return f.path == path; });
    return found == release->files.end() ? nullptr : &*found;
  };
  for (const char* name : {"libc.so.6", "libm.so.6", "libssh.so.4", "libstdc++.so.6", "ld-linux-x86-64.so.2"}) {
    INFO(name);
    const ReleaseFile* shipped = file("lib/db/" + std::string(name));
    REQUIRE(shipped);
    CHECK(shipped->services == std::vector<std::string>{"db"});
    CHECK(shipped->sha256.size() == 64); // content-addressed like every release file
  }
  CHECK(file("lib/db/ld-linux-x86-64.so.2")->local == std::filesystem::canonical("/lib64/ld-linux-x86-64.so.2"));
  CHECK(file("lib/db/libc.so.6")->local == std::filesystem::canonical("/lib/x86_64-linux-gnu/libc.so.6"));
  // Preflight asks the node for its architecture only: no library, no version, no loader.
  for (const auto& program : release->programs) {
    INFO(program.path);
    CHECK(program.needs.machine == 62);
    CHECK(program.needs.libraries.empty());
    CHECK(program.needs.interpreter.empty());
  }
  CHECK_THAT(read(plan.output_dir / "server1/units/demo-db.service"),
             Catch::Contains("ExecStart=\"/opt/demo/current/lib/db/ld-linux-x86-64.so.2\" \"--library-path\" "
                             "\"/opt/demo/current/lib/db\" \"/opt/demo/current/bin/" +
                             self.filename().string() + "\""));
  // Content-addressed: a node that has this libc already, under any service's folder, reuses it.
  RemoteState remote;
  remote.current_id = "older";
  remote.files["lib/other/libc.so.6"] = file("lib/db/libc.so.6")->sha256;
  ChangeSet changes = compute_changes(*release, remote);
  CHECK(std::any_of(changes.reuse.begin(), changes.reuse.end(), [](const ChangeSet::Reuse& reuse) {
    return reuse.from == "lib/other/libc.so.6" && reuse.to == "lib/db/libc.so.6";
  }));
  CHECK(std::none_of(changes.send.begin(), changes.send.end(),
                     [](const ReleaseFile* sent) { return sent->path == "lib/db/libc.so.6"; }));

  // The plain BUNDLE_LIBS is unchanged: glibc and the loader are the node's.
  plan.services[0].bundle_libs = Service::Bundle::libraries; // db (servers)
  auto plain = render_node(plan, *plan.inventory.find("server1"), cache);
  REQUIRE(plain);
  CHECK(std::none_of(plain->files.begin(), plain->files.end(), [](const ReleaseFile& f) {
    return f.path == "lib/db/libc.so.6" || f.path == "lib/db/ld-linux-x86-64.so.2";
  }));
  CHECK_FALSE(plain->programs.back().needs.interpreter.empty());
}

TEST_CASE("BUNDLE_LIBS ALL ships nothing with a program that has no loader (a script, a static program)")
{
  Plan plan = testing::example_plan("render-bundle-all-script");
  for (auto& service : plan.services) {
    service.bundle_libs = Service::Bundle::all; // the example programs are text files
  }
  ProgramCache cache;
  auto release = render_node(plan, *plan.inventory.find("server1"), cache);
  REQUIRE(release);
  CHECK(std::none_of(release->files.begin(), release->files.end(),
                     [](const ReleaseFile& f) { return f.path.starts_with("lib/"); }));
}
