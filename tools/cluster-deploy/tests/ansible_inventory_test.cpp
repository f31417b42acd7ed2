#include "ansible_inventory.hpp"
#include "test_support.hpp"

#include <catch2/catch.hpp>

#include <fstream>

using namespace deploy;

namespace {

const char* k_ansible = R"INI(# an Ansible inventory as teams have them
standalone ansible_host=192.0.2.9

[servers]
server1 ansible_host=10.0.0.1 ansible_user=ops zone=a
server2 ansible_host=10.0.0.2 ansible_port=2222
server3:2200 ansible_host="10.0.0.3" zone='c'   # inline comment

[workers]
worker1 ansible_host=10.0.0.11 shard=0 ansible_python_interpreter=/usr/bin/python3

[servers:vars]
zone=default
role = "db"

[kv:children]
servers
workers

[kv:vars]
datacenter=dc1
zone=kv-default

[all:vars]
datacenter=nowhere
ansible_ssh_common_args='-F ssh_config'
)INI";

} // namespace

TEST_CASE("an Ansible INI inventory becomes groups of nodes with address, port, user and variables")
{
  auto inventory = parse_ansible_inventory(k_ansible, "hosts.ini");
  REQUIRE(inventory);
  CHECK(inventory->groups == std::vector<std::string>{"servers", "ungrouped", "workers"});
  const Node* server1 = inventory->find("server1");
  REQUIRE(server1);
  CHECK(server1->group == "servers");
  CHECK(server1->address == "10.0.0.1");
  CHECK(server1->user == "ops");
  CHECK(server1->port == 0);
  CHECK(server1->origin == "hosts.ini:5");
  // host vars beat [servers:vars] beat [kv:vars] (a parent) beat [all:vars]
  CHECK(server1->vars == std::map<std::string, std::string>{{"zone", "a"}, {"role", "db"}, {"datacenter", "dc1"}});
  CHECK(inventory->find("server2")->port == 2222);
  CHECK(inventory->find("server2")->vars.at("zone") == "default");
  const Node* server3 = inventory->find("server3");
  CHECK(server3->port == 2200);
  CHECK(server3->address == "10.0.0.3");
  CHECK(server3->vars.at("zone") == "c");
  CHECK(server3->index == 2);
  const Node* worker1 = inventory->find("worker1");
  CHECK(worker1->vars ==
        std::map<std::string, std::string>{{"shard", "0"}, {"datacenter", "dc1"}, {"zone", "kv-default"}});
  CHECK(inventory->find("standalone")->group == "ungrouped");
  CHECK(inventory->find("standalone")->vars.at("datacenter") == "nowhere");
}

TEST_CASE("Ansible inventory errors name file and line")
{
  CHECK(parse_ansible_inventory("[web]\nweb[01:03] ansible_host=10.0.0.1\n", "h.ini").error() ==
        "h.ini:2: host ranges such as 'web[01:03]' are not supported; list the hosts");
  CHECK(parse_ansible_inventory("[a]\nn1 ansible_host=10.0.0.1\n[b]\nn1\n", "h.ini").error() ==
        "h.ini:4: host n1 is already listed at h.ini:2; a ClusterDeploy node belongs to one group");
  CHECK(parse_ansible_inventory("[a]\nn1 ansible_host=10.0.0.1 node=x\n", "h.ini").error() ==
        "h.ini:2: variable 'node' is a built-in template name; choose another");
  CHECK(parse_ansible_inventory("[a]\nn1 ansible_port=99999\n", "h.ini").error() ==
        "h.ini:2: bad port '99999' (1-65535)");
  CHECK(parse_ansible_inventory("[a:weird]\n", "h.ini").error() ==
        "h.ini:1: unknown section kind 'weird' (hosts, :vars or :children)");
  CHECK(parse_ansible_inventory("[a:children]\nb\n", "h.ini").error() == "inventory h.ini lists no host");
}

TEST_CASE("our inventory exported for Ansible reads back as the same nodes")
{
  auto original = read_inventory(CD_TEST_DATA "/inv");
  REQUIRE(original);
  original->nodes[0].port = 2222;
  original->nodes[0].user = "ops";
  original->nodes[0].vars["motd"] = "hello world \"quoted\"";
  original->nodes[1].fan_out = false;
  std::vector<const Node*> nodes;
  for (const auto& node : original->nodes) {
    nodes.push_back(&node);
  }
  std::string text = ansible_ini(nodes, "demo-kv", "/tmp/my ssh_config", "inv");
  CHECK_THAT(text, Catch::Contains("[servers]\nserver1 ansible_host=10.0.0.1 ansible_port=2222 ansible_user=ops "
                                   "motd=\"hello world \\\"quoted\\\"\"\n"));
  CHECK_THAT(text, Catch::Contains("server2 ansible_host=10.0.0.2 fan_out=off\n"));
  CHECK_THAT(text, Catch::Contains("[demo_kv:children]\nservers\nworkers\n"));
  CHECK_THAT(text, Catch::Contains("[all:vars]\nansible_ssh_common_args=\"-F '/tmp/my ssh_config'\"\n"));
  auto back = parse_ansible_inventory(text, "export.ini");
  REQUIRE(back);
  CHECK(back->groups == original->groups);
  REQUIRE(back->nodes.size() == original->nodes.size());
  for (size_t i = 0; i < back->nodes.size(); ++i) {
    CHECK(back->nodes[i].name == original->nodes[i].name);
    CHECK(back->nodes[i].address == original->nodes[i].address);
    CHECK(back->nodes[i].group == original->nodes[i].group);
    CHECK(back->nodes[i].index == original->nodes[i].index);
    CHECK(back->nodes[i].port == original->nodes[i].port);
    CHECK(back->nodes[i].user == original->nodes[i].user);
    CHECK(back->nodes[i].fan_out == original->nodes[i].fan_out);
    CHECK(back->nodes[i].vars == original->nodes[i].vars);
  }
}

TEST_CASE("read_inventory reads a file as an Ansible inventory")
{
  auto dir = testing::scratch_dir("ansible-file");
  std::ofstream(dir / "hosts.ini") << "[servers]\ns1 ansible_host=10.0.0.1\n";
  auto inventory = read_inventory(dir / "hosts.ini");
  REQUIRE(inventory);
  CHECK(inventory->find("s1")->address == "10.0.0.1");
}
