#include "preflight.hpp"

#include "test_support.hpp"

using namespace deploy;

TEST_CASE("preflight asks a node for each program's architecture, loader and library versions")
{
  NodeRelease release;
  release.programs.push_back({"bin/worker",
                              ProgramNeeds{62,
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
