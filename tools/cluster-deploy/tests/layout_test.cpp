#include "layout.hpp"
#include "quote.hpp"
#include "remote_scripts.hpp"
#include "test_support.hpp"

#include <catch2/catch.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

using namespace deploy;

namespace {

/// Runs remote/prelude.sh for `cluster` in a local sh, then `commands`; returns stdout. `path`:
/// the sh's PATH, when not this process's.
std::string run_prelude(const std::string& cluster, const std::string& commands, const std::string& path = "")
{
  std::string line = shell_join({"sh", "-c", std::string(remote::prelude.text) + commands, "prelude.sh", cluster});
  if (!path.empty()) {
    line = shell_join({"env", "PATH=" + path}) + " " + line;
  }
  FILE* pipe = popen(line.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::string out;
  char buffer[256];
  while (std::fgets(buffer, sizeof buffer, pipe)) {
    out += buffer;
  }
  REQUIRE(pclose(pipe) == 0);
  return out;
}

} // namespace

TEST_CASE("layout: the node scripts and the helper agree")
{
  NodeLayout layout{"kv"};
  std::string out = run_prelude("kv", R"SH(
printf '%s\n' "$root" "$root/current" "$data/db" "$(unit_name db)" "$cluster" "$unit_mark")SH");
  CHECK(out == layout.root() + "\n" + layout.current() + "\n" + layout.data_dir("db") + "\n" + layout.unit_name("db") +
                   "\n" + layout.user() + "\n" + layout.unit_mark() + "\n");
}

TEST_CASE("prelude: sha256_of is the file's SHA-256, with openssl (the fast one) and with sha256sum alone")
{
  auto dir = testing::scratch_dir("sha256-of");
  std::ofstream(dir / "abc") << "abc";
  std::string abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\n";
  std::string commands = "\nsha256_of " + shell_quote((dir / "abc").string()) + "\nsha256_of " +
                         shell_quote((dir / "missing").string()) + "\n";
  // A node without openssl: a PATH that has sh and sha256sum (and nothing else the lines use).
  std::filesystem::create_directories(dir / "bin");
  for (const char* tool : {"/bin/sh", "/usr/bin/sha256sum"}) {
    auto link = dir / "bin" / std::filesystem::path(tool).filename();
    std::filesystem::remove(link);
    std::filesystem::create_symlink(tool, link);
  }
  REQUIRE(run_prelude("kv", "\ncommand -v openssl >/dev/null && echo openssl", "/usr/bin:/bin") == "openssl\n");
  CHECK(run_prelude("kv", commands, "/usr/bin:/bin") == abc + "\n"); // a file it cannot read: empty
  CHECK(run_prelude("kv", commands, (dir / "bin").string()) == abc + "\n");
}
