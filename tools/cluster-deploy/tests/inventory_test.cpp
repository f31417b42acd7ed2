#include "inventory.hpp"
#include "inventory_source.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <fstream>

using namespace deploy;

TEST_CASE("a group file lists nodes with fields and comments")
{
  auto nodes = parse_group("# servers\n\nnode1:192.168.1.10 port=2222 user=ops zone=a # rack 1\n"
                           "node2:db2.example.org\n",
                           "servers", "servers.txt");
  REQUIRE(nodes);
  REQUIRE(nodes->size() == 2);
  const Node& first = nodes->at(0);
  CHECK(first.name == "node1");
  CHECK(first.address == "192.168.1.10");
  CHECK(first.port == 2222);
  CHECK(first.user == "ops");
  CHECK(first.vars.at("zone") == "a");
  CHECK(first.group == "servers");
  CHECK(first.origin == "servers.txt:3");
  CHECK(nodes->at(1).index == 1);
}

TEST_CASE("inventory errors name file and line")
{
  auto error_of = [](const char* text) {
    auto nodes = parse_group(text, "servers", "inv/servers.txt");
    REQUIRE_FALSE(nodes);
    return nodes.error();
  };
  CHECK(error_of("ok:10.0.0.1\nmissing-colon\n") == "inv/servers.txt:2: expected name:address, got 'missing-colon'");
  CHECK(error_of("bad;name:10.0.0.1") == "inv/servers.txt:1: bad node name 'bad;name' (1-63 characters of A-Z a-z "
                                         "0-9 . _ -, the first a letter or digit)");
  CHECK(error_of("n:300.1.1.1") == "inv/servers.txt:1: bad address '300.1.1.1' for node n");
  CHECK(error_of("n:10.0.0.1 port=70000") == "inv/servers.txt:1: bad port '70000' (1-65535)");
  CHECK(error_of("n:10.0.0.1 oops") == "inv/servers.txt:1: expected key=value, got 'oops'");
  CHECK(error_of("n:10.0.0.1 user=$(x)") == "inv/servers.txt:1: bad user '$(x)'");
  CHECK(error_of("n:10.0.0.1 a=1 a=2") == "inv/servers.txt:1: variable 'a' given twice");
  CHECK(error_of("n:a;b") == "inv/servers.txt:1: bad address 'a;b' for node n");
  CHECK(error_of("n:10.0.0.1 fan_out=no").starts_with("inv/servers.txt:1: bad fan_out 'no' (off: "));
}

TEST_CASE("fan_out=off keeps a node out of the fan-out, and is no template variable")
{
  auto nodes = parse_group("a:10.0.0.1 fan_out=off\nb:10.0.0.2 fan_out=auto\nc:10.0.0.3\n", "workers", "w.txt");
  REQUIRE(nodes);
  CHECK_FALSE((*nodes)[0].fan_out);
  CHECK((*nodes)[1].fan_out);
  CHECK((*nodes)[2].fan_out);
  CHECK((*nodes)[0].vars.empty());
}

TEST_CASE("addresses are IPv4 or bracketed IPv6 or host names")
{
  CHECK(is_valid_address("10.213.77.11"));
  CHECK(is_valid_address("[fd00::1]"));
  CHECK(is_valid_address("db-1.example.org"));
  CHECK_FALSE(is_valid_address("10.0.0"));
  CHECK_FALSE(is_valid_address("10.0.0.256"));
  CHECK_FALSE(is_valid_address("host name"));
  CHECK_FALSE(is_valid_address("-oProxyCommand=x"));
}

TEST_CASE("read_inventory reads every group and refuses duplicate names")
{
  auto inventory = read_inventory(CD_TEST_DATA "/inv");
  REQUIRE(inventory);
  CHECK(inventory->groups == std::vector<std::string>{"servers", "workers"});
  CHECK(inventory->group("servers").size() == 2);
  CHECK(inventory->find("worker1")->vars.at("shard") == "0");

  auto dir = std::filesystem::temp_directory_path() / "cd-inventory-dup";
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "a.txt") << "n1:10.0.0.1\n";
  std::ofstream(dir / "b.txt") << "# x\nn1:10.0.0.2\n";
  auto duplicate = read_inventory(dir);
  REQUIRE_FALSE(duplicate);
  CHECK(duplicate.error() ==
        (dir / "b.txt").string() + ":2: node n1 is already defined at " + (dir / "a.txt").string() + ":1");
  std::filesystem::remove_all(dir);
  CHECK_FALSE(read_inventory(dir));
}

TEST_CASE("a node variable may not hide a built-in template name")
{
  auto nodes = parse_group("n:10.0.0.1 address=x", "servers", "s.txt");
  REQUIRE_FALSE(nodes);
  CHECK(nodes.error() == "s.txt:1: variable 'address' is a built-in template name; choose another");
}

TEST_CASE("a '#' inside a value is part of it - a comment starts at a line's start or after a space")
{
  auto nodes = parse_group("n1:10.0.0.1 token=ab#c # the token\n#n2:10.0.0.2\n", "g", "g.txt");
  REQUIRE(nodes);
  REQUIRE(nodes->size() == 1);
  CHECK(nodes->at(0).vars.at("token") == "ab#c");
}

TEST_CASE("a group file that cannot be read is an error, not an empty group")
{
  auto dir = std::filesystem::temp_directory_path() / "cd-inventory-unreadable";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "a.txt") << "n1:10.0.0.1\n";
  std::filesystem::create_symlink(dir / "gone", dir / "b.txt"); // a dangling link
  auto inventory = read_inventory(dir);
  REQUIRE_FALSE(inventory);
  CHECK(inventory.error() == (dir / "b.txt").string() + ": cannot read this group file");
  std::filesystem::remove_all(dir);
}

TEST_CASE("two nodes on one address and port are refused")
{
  auto dir = std::filesystem::temp_directory_path() / "cd-inventory-same-host";
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "a.txt") << "n1:10.0.0.1\n";
  std::ofstream(dir / "b.txt") << "n2:10.0.0.1\nn3:10.0.0.1 port=2222\n";
  auto inventory = read_inventory(dir);
  REQUIRE_FALSE(inventory);
  CHECK(inventory.error() == (dir / "b.txt").string() + ":1: node n2 has the address of n1 (" +
                                 (dir / "a.txt").string() + ":1); one node, one group");
  std::ofstream(dir / "b.txt", std::ios::trunc) << "n2:10.0.0.1 port=22\n"; // 22 is the default port
  auto same = read_inventory(dir);
  REQUIRE_FALSE(same);
  CHECK_THAT(same.error(), Catch::Contains("node n2 has the address of n1"));
  std::filesystem::remove_all(dir);
}

TEST_CASE("the name rules: nodes and groups, clusters and services")
{
  for (const char* name : {"node1", "n", "Web_1", "db2.example", "1st", "a-b"}) {
    CHECK(is_node_or_group_name(name));
  }
  CHECK(is_node_or_group_name(std::string(63, 'n')));
  for (const char* name : {"", "_x", ".x", "-x", "a;b", "a b", "a/b", "a+b", "a:b"}) {
    CHECK_FALSE(is_node_or_group_name(name));
  }
  CHECK_FALSE(is_node_or_group_name(std::string(64, 'n')));

  for (const char* name : {"kv", "kv-server", "a1", "example"}) {
    CHECK(is_cluster_or_service_name(name));
  }
  CHECK(is_cluster_or_service_name(std::string(32, 'c')));
  for (const char* name : {"", "Kv", "1kv", "-kv", "kv_1", "kv.x", "kv server"}) {
    CHECK_FALSE(is_cluster_or_service_name(name));
  }
  CHECK_FALSE(is_cluster_or_service_name(std::string(33, 'c')));
}

TEST_CASE("read_inventory applies the name rules to group files and to nodes from any source")
{
  auto dir = std::filesystem::temp_directory_path() / "cd-inventory-names";
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "web+db.txt") << "n1:10.0.0.1\n";
  auto group = read_inventory(dir);
  REQUIRE_FALSE(group);
  CHECK(group.error() ==
        (dir / "web+db.txt").string() +
            ": bad group name 'web+db' (1-63 characters of A-Z a-z 0-9 . _ -, the first a letter or digit)");
  std::filesystem::remove_all(dir);

  Inventory inventory;
  Node node;
  node.name = "_h1"; // an Ansible host name is read by ansible_inventory.cpp, checked here
  node.group = "servers";
  node.address = "10.0.0.1";
  node.origin = "hosts.ini:3";
  auto added = add_node(inventory, node);
  REQUIRE_FALSE(added);
  CHECK(added.error() ==
        "hosts.ini:3: bad node name '_h1' (1-63 characters of A-Z a-z 0-9 . _ -, the first a letter or digit)");
  node.name = "h1";
  node.group = std::string(64, 'g');
  CHECK_FALSE(add_node(inventory, node));
}

TEST_CASE("node_lines lists name, address, group, image and origin per node (inventory --inventory)")
{
  auto inventory = read_inventory(CD_TEST_DATA "/inv");
  REQUIRE(inventory);
  auto lines = node_lines(*inventory);
  auto first = lines.substr(0, lines.find('\n'));
  const Node& node = inventory->nodes.front();
  CHECK(first == node.name + " " + node.address + " " + node.group + " bookworm " + node.origin);
  CHECK(std::count(lines.begin(), lines.end(), '\n') == static_cast<long>(inventory->nodes.size()));
}

TEST_CASE("a control character anywhere in a group file is refused, naming file:line")
{
  auto crlf = parse_group("node1:10.0.0.1\r\nnode2:10.0.0.2\r\n", "servers", "inv/servers.txt");
  REQUIRE_FALSE(crlf);
  CHECK(crlf.error() ==
        "inv/servers.txt:1: control character U+000D (carriage return: save the file with Unix line ends)");
  auto escape = parse_group("node1:10.0.0.1\nnode2:10.0.0.2 zone=a\x1b[2J # a comment\n", "servers", "s.txt");
  REQUIRE_FALSE(escape);
  CHECK(escape.error() == "s.txt:2: control character U+001B");
  CHECK(parse_group("node1:10.0.0.1\tzone=a\n", "servers", "s.txt")); // a tab separates words
}

TEST_CASE("image= names the Debian release a local cluster node boots")
{
  auto nodes = parse_group("old:10.0.0.1 image=bullseye\nnew:10.0.0.2 image=trixie\nplain:10.0.0.3\n", "servers",
                           "inv/servers.txt");
  REQUIRE(nodes);
  CHECK(nodes->at(0).image == "bullseye");
  CHECK(nodes->at(1).image == "trixie");
  CHECK(nodes->at(2).image.empty());
  CHECK(nodes->at(0).vars.count("image") == 0);
  auto bad = parse_group("n:10.0.0.1 image=buster\n", "servers", "inv/servers.txt");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().starts_with("inv/servers.txt:1: bad image 'buster'"));
}
