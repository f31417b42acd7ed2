// The fake transport's node scripts against the real ones. helper.script-contract runs the
// real read-only scripts (remote/state.sh, unit-state.sh, current.sh, list-faults.sh) on
// deployed local-cluster nodes and saves what they print in $CD_CONTRACT_DIR; this test (hidden
// from the unit run: [.contract]) reads it with the parsers NodeOps uses and checks that every
// kind of line the fake prints for the same script is one the real script prints, so the fake
// cannot drift from the scripts unnoticed.
#include "changes.hpp"
#include "fake_transport.hpp"
#include "node_ops.hpp"
#include "remote_scripts.hpp"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

using namespace deploy;
using deploy::testing::FakeNode;
using deploy::testing::FakeTransport;

namespace {

std::filesystem::path contract_dir()
{
  const char* dir = std::getenv("CD_CONTRACT_DIR");
  if (dir == nullptr) {
    FAIL("CD_CONTRACT_DIR is not set: run this through the test helper.script-contract");
  }
  return dir;
}

std::string read_text(const std::filesystem::path& file)
{
  std::ifstream in(file);
  REQUIRE(in.is_open());
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string first_line(const std::filesystem::path& file)
{
  std::string text = read_text(file);
  return text.substr(0, text.find('\n'));
}

/// The kind of each line: what comes before the first `separator` (a space: "current", "file",
/// ...; '=': "ActiveState", ...), or, with no separator, the line with its ids made general.
std::set<std::string> kinds(const std::string& text, char separator)
{
  std::set<std::string> found;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) {
      continue;
    }
    auto end = line.find(separator);
    if (end == std::string::npos) {
      line = std::regex_replace(line, std::regex("[0-9a-f]{16,}"), "<id>");
      found.insert(line);
    } else {
      found.insert(line.substr(0, end));
    }
  }
  return found;
}

std::string fake_prints(FakeNode& node, const remote::Script& script, const std::vector<std::string>& args)
{
  FakeTransport transport(node);
  auto result = transport.exec(root_command(script, args), "", Seconds{10});
  REQUIRE(result);
  REQUIRE(result->exit_status == 0);
  return result->out;
}

/// What the fake has to say about a node like the real one: a release with a file, a running
/// unit of the service and its started record.
FakeNode fake_like(const std::string& cluster, const std::string& service)
{
  FakeNode node;
  node.current = "0123456789abcdef";
  node.manifests[node.current] = std::string(64, 'a') + "  bin/" + service + "\n";
  node.units[cluster + "-" + service + ".service"] = std::string(64, 'b');
  node.active.insert(cluster + "-" + service + ".service");
  node.started[service] = std::string(64, 'c');
  return node;
}

void check_subset(const std::set<std::string>& fake, const std::set<std::string>& real, const std::string& script)
{
  for (const auto& kind : fake) {
    INFO(script << ": the fake prints lines of the kind '" << kind << "', the real script does not");
    CHECK(real.count(kind) == 1);
  }
}

} // namespace

TEST_CASE("contract: the fake prints what the real read-only node scripts print", "[.contract]")
{
  auto dir = contract_dir();
  std::string cluster = first_line(dir / "cluster");
  std::string service = first_line(dir / "service");
  FakeNode node = fake_like(cluster, service);

  SECTION("state.sh")
  {
    std::string real = read_text(dir / "state.out");
    check_subset(kinds(fake_prints(node, remote::state, {cluster}), ' '), kinds(real, ' '),
                 "state.sh");
    RemoteState state = parse_remote_state(real);
    CHECK_FALSE(state.current_id.empty());
    CHECK(state.releases.count(state.current_id) == 1);
    CHECK_FALSE(state.files.empty());
    CHECK(state.units.count(cluster + "-" + service + ".service") == 1);
    CHECK(state.started.count(service) == 1);
  }
  SECTION("unit-state.sh")
  {
    std::string real = read_text(dir / "unit-state.out");
    check_subset(kinds(fake_prints(node, remote::unit_state, {cluster, service, "-"}), '='),
                 kinds(real, '='), "unit-state.sh");
    UnitState state = parse_unit_state(real);
    CHECK(state.loaded);
    CHECK(state.running());
    CHECK(state.main_pid > 0);
    CHECK(state.uptime_seconds >= 0);
  }
  SECTION("list-faults.sh")
  {
    // Saved on a worker while its service was paused (script-contract.sh).
    std::string real = read_text(dir / "list-faults.out");
    std::string unit = cluster + "-worker.service";
    FakeNode paused;
    paused.faults.push_back("pause " + unit);
    check_subset(kinds(fake_prints(paused, remote::list_faults, {cluster}), ' '), kinds(real, ' '), "list-faults.sh");
    auto faults = parse_active_faults(real);
    REQUIRE(faults.size() == 1);
    CHECK(faults[0].kind == "pause");
    CHECK(faults[0].units == std::vector<std::string>{unit});
    CHECK(faults[0].seconds_left > 0);
    auto fake = parse_active_faults(fake_prints(paused, remote::list_faults, {cluster}));
    REQUIRE(fake.size() == 1);
    CHECK(fake[0].units == faults[0].units); // status ties a fault to its unit through these
  }
  SECTION("current.sh")
  {
    std::string real = read_text(dir / "current.out");
    check_subset(kinds(fake_prints(node, remote::current, {cluster}), '\n'), kinds(real, '\n'),
                 "current.sh");
    std::string target = real.substr(0, real.find('\n'));
    CHECK(target.substr(target.rfind('/') + 1) == parse_remote_state(read_text(dir / "state.out")).current_id);
  }
}
