#include "layout.hpp"
#include "quote.hpp"
#include "remote_scripts.hpp"

#include <catch2/catch.hpp>

#include <cstdio>
#include <string>

using namespace deploy;

namespace {

/// Runs remote/prelude.sh for `cluster` in a local sh, then `commands`; returns stdout.
std::string run_prelude(const std::string& cluster, const std::string& commands)
{
  std::string line = shell_join({"sh", "-c", std::string(remote::prelude.text) + commands, "prelude.sh", cluster});
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
