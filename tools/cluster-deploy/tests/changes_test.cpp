#include "changes.hpp"

#include <catch2/catch.hpp>

using namespace deploy;

namespace {

NodeRelease release_of(std::vector<ReleaseFile> files)
{
  NodeRelease release;
  release.files = std::move(files);
  finish_release(release);
  return release;
}

RemoteState deployed(const NodeRelease& release)
{
  RemoteState state;
  state.current_id = release.id;
  state.releases.insert(release.id);
  for (const auto& file : release.files) {
    state.files[file.path] = file.sha256;
    if (file.path.starts_with("units/")) {
      state.units[file.path.substr(6)] = file.sha256;
    }
  }
  state.started = release.service_digests;
  return state;
}

const std::vector<ReleaseFile> k_files = {
    {"bin/db", "/dev/null", "aaa", {"db"}},
    {"etc/db/db.conf", "/dev/null", "bbb", {"db"}},
    {"units/c-db.service", "/dev/null", "ccc", {"db"}},
    {"bin/worker", "/dev/null", "ddd", {"worker"}},
    {"units/c-worker.service", "/dev/null", "eee", {"worker"}},
};

} // namespace

TEST_CASE("a never-deployed node gets every file and every unit")
{
  auto changes = compute_changes(release_of(k_files), RemoteState{});
  CHECK(changes.release_changed);
  CHECK(changes.send.size() == 5);
  CHECK(changes.units_to_install.size() == 2);
  CHECK(changes.restart == std::set<std::string>{"db", "worker"});
}

TEST_CASE("nothing changed means nothing to send or install or restart")
{
  auto release = release_of(k_files);
  auto changes = compute_changes(release, deployed(release));
  CHECK(changes.nothing_to_do());
  CHECK(changes.send.empty());
  CHECK(changes.restart.empty());
}

TEST_CASE("a changed config sends only it and restarts only its service")
{
  auto old_release = release_of(k_files);
  auto files = k_files;
  files[1].sha256 = "bbb2";
  auto changes = compute_changes(release_of(files), deployed(old_release));
  CHECK(changes.release_changed);
  REQUIRE(changes.send.size() == 1);
  CHECK(changes.send[0]->path == "etc/db/db.conf");
  CHECK(changes.reuse.size() == 4);
  CHECK(changes.units_to_install.empty());
  CHECK(changes.restart == std::set<std::string>{"db"});
}

TEST_CASE("a unit edited on the node is reinstalled and its service restarted")
{
  auto release = release_of(k_files);
  auto state = deployed(release);
  state.units["c-worker.service"] = "edited";
  auto changes = compute_changes(release, state);
  CHECK_FALSE(changes.release_changed);
  CHECK(changes.units_to_install == std::vector<std::string>{"c-worker.service"});
  CHECK(changes.restart == std::set<std::string>{"worker"});
}

TEST_CASE("going back to a release still on the node sends nothing")
{
  auto first = release_of(k_files);
  auto files = k_files;
  files[0].sha256 = "aaa2";
  auto second = release_of(files);
  auto state = deployed(second);
  state.releases.insert(first.id);
  auto changes = compute_changes(first, state);
  CHECK(changes.release_on_node);
  CHECK(changes.send.empty());
  CHECK(changes.restart == std::set<std::string>{"db"});
}

TEST_CASE("a service no longer in the plan has its unit removed")
{
  auto release = release_of(k_files);
  auto state = deployed(release);
  state.units["c-old.service"] = "fff";
  auto changes = compute_changes(release, state);
  CHECK(changes.units_to_remove == std::vector<std::string>{"c-old.service"});
  CHECK_FALSE(changes.nothing_to_do());
  CHECK(changes.restart.empty());
}
