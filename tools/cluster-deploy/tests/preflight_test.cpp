#include "preflight.hpp"

#include "quote.hpp"
#include "remote_scripts.hpp"
#include "test_support.hpp"

#include <cstdlib>

using namespace deploy;

TEST_CASE("preflight asks a node for each program's architecture, loader and library versions")
{
  NodeRelease release;
  release.programs.push_back(
      {"bin/worker", ProgramNeeds{62,
                                  "/lib64/ld-linux-x86-64.so.2",
                                  {{"libstdc++.so.6", {"GLIBCXX_3.4.30", "CXXABI_1.3"}}, {"libfoo.so.1", {}}}}});
  release.programs.push_back({"bin/etcd", ProgramNeeds{62, "", {}}}); // static: only its architecture
  ReleaseFile worker{"bin/worker", {}, "aa", {"worker"}};
  ReleaseFile etcd{"bin/etcd", {}, "bb", {"etcd"}};
  ChangeSet changes;
  changes.send = {&worker, &etcd};
  CHECK(preflight_request(release, changes) == "program bin/worker 62 /lib64/ld-linux-x86-64.so.2\n"
                                               "needs bin/worker libstdc++.so.6 GLIBCXX_3.4.30 CXXABI_1.3\n"
                                               "needs bin/worker libfoo.so.1\n"
                                               "program bin/etcd 62 -\n");
  // A program the node has already (a config-only change reuses it) was checked when it was sent.
  changes.send = {&etcd};
  CHECK(preflight_request(release, changes) == "program bin/etcd 62 -\n");
}

namespace {

/// Runs remote/preflight.sh here, as a node would (prelude included), with `request` on its
/// stdin; returns what it said on stderr. The cluster's name is free on the controller.
std::string run_preflight(const std::string& request)
{
  auto dir = testing::scratch_dir("preflight-script");
  std::ofstream(dir / "request") << request;
  std::string line = shell_join({"sh", "-c", remote::preflight.text, "preflight.sh", "cdtestfree", "0"}) + " <" +
                     shell_quote((dir / "request").string()) + " 2>" + shell_quote((dir / "err").string());
  [[maybe_unused]] int status = std::system(line.c_str()); // exit 6 here without systemd: stderr says why
  std::ifstream in(dir / "err");
  std::stringstream err;
  err << in.rdbuf();
  return err.str();
}

} // namespace

TEST_CASE("preflight's refusal of a glibc symbol version names it, and BUNDLE_LIBS ALL, on one line")
{
  std::string err = run_preflight("needs bin/worker libc.so.6 GLIBC_2.2.5 GLIBC_9.99\n"
                                  "needs bin/worker libstdc++.so.6 GLIBCXX_9.99\n");
  CHECK_THAT(err, Catch::Contains("bin/worker cannot run on this node: it needs GLIBC_9.99 (the node's libc.so.6 is "
                                  "older; BUNDLE_LIBS ALL ships glibc and its loader with the program)\n"));
  CHECK_THAT(err, Catch::Contains("bin/worker cannot run on this node: it needs GLIBCXX_9.99 (the node's "
                                  "libstdc++.so.6 is older; BUNDLE_LIBS ships it)\n"));
  CHECK_THAT(err, !Catch::Contains("GLIBC_2.2.5")); // the controller has it
}

TEST_CASE("preflight refuses a unit setting the node's systemd does not know, and only that one")
{
  // The controller's systemd checks our unit alone (--recursive-errors=no from 250 on).
  std::string err = run_preflight("setting cdtest.service Unit Description=x\n"
                                  "setting cdtest.service Service ExecStart=/bin/true\n"
                                  "setting cdtest.service Service BogusKey=1\n");
  CHECK_THAT(err, Catch::Contains("cdtest.service: Service setting BogusKey is unknown to this node's systemd"));
  CHECK_THAT(err, !Catch::Contains("ExecStart"));
  CHECK_THAT(err, !Catch::Contains("Description"));
}

TEST_CASE("BUNDLE_LIBS ALL: preflight asks for the architecture only, not the node's loader")
{
  NodeRelease release;
  release.programs.push_back({"bin/worker", ProgramNeeds{62, "", {}}}); // its loader and libraries ship with it
  ReleaseFile worker{"bin/worker", {}, "aa", {"worker"}};
  ChangeSet changes;
  changes.send = {&worker};
  CHECK(preflight_request(release, changes) == "program bin/worker 62 -\n");
  CHECK_THAT(run_preflight(preflight_request(release, changes)), !Catch::Contains("bin/worker"));
}

TEST_CASE("preflight sends the settings of each unit to install, for the node's systemd to check")
{
  auto dir = testing::scratch_dir("preflight-units");
  std::ofstream(dir / "worker.service") << "# Written by ClusterDeploy\n[Unit]\nDescription=w\n\n[Service]\n"
                                           "ExecStart=/opt/c/current/bin/worker\nStartupAllowedCPUs=0-1\n";
  NodeRelease release;
  ReleaseFile unit{"units/c-worker.service", dir / "worker.service", "cc", {"worker"}};
  release.files.push_back(unit);
  ChangeSet changes;
  CHECK(preflight_request(release, changes).empty()); // the node has the unit already
  changes.units_to_install = {"c-worker.service"};
  CHECK(preflight_request(release, changes) == "setting c-worker.service Unit Description=w\n"
                                               "setting c-worker.service Service ExecStart=/opt/c/current/bin/worker\n"
                                               "setting c-worker.service Service StartupAllowedCPUs=0-1\n");
}

TEST_CASE("preflight asks again about a program the node has when its service gets a new unit")
{
  // BUNDLE_LIBS ALL taken away: the same program, now on the node's glibc.
  NodeRelease release;
  release.programs.push_back({"bin/worker", ProgramNeeds{62, "/lib64/ld-linux-x86-64.so.2", {{"libc.so.6", {"GLIBC_2.34"}}}}});
  release.files.push_back({"bin/worker", {}, "aa", {"worker"}});
  release.files.push_back({"units/c-worker.service", testing::scratch_dir("preflight-new-unit") / "none", "bb", {"worker"}});
  ChangeSet changes; // the node has bin/worker already
  CHECK(preflight_request(release, changes).empty());
  changes.units_to_install = {"c-worker.service"};
  CHECK_THAT(preflight_request(release, changes),
             Catch::StartsWith("program bin/worker 62 /lib64/ld-linux-x86-64.so.2\nneeds bin/worker libc.so.6 GLIBC_2.34\n"));
}
