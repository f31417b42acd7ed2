#include "render.hpp"
#include "test_support.hpp"

using namespace deploy;

TEST_CASE("templates get per-node values and peers and inventory variables")
{
  Plan plan = testing::example_plan("render-template");
  const Node& server2 = *plan.inventory.find("server2");
  const Service& db = *plan.find_service("db");
  auto text = expand_template("@node@ @address@ @index@ @group@ @bootstrap@ @count:servers@ a@@b "
                              "@peers:servers:{name}=http://{address}:2380@",
                              plan, server2, db, "t");
  REQUIRE(text);
  CHECK(*text == "server2 10.0.0.2 1 servers false 2 a@b server1=http://10.0.0.1:2380,server2=http://10.0.0.2:2380");
  CHECK(*expand_template("@bootstrap@ @data_dir@ @etc@", plan, *plan.inventory.find("server1"), db, "t") ==
        "true /var/lib/demo/db /opt/demo/current/etc/db");
  CHECK(*expand_template("@shard@", plan, *plan.inventory.find("worker1"), db, "t") == "0");
}

TEST_CASE("in commands run on a node, an inventory value is one word and never code")
{
  Plan plan = testing::example_plan("render-command");
  Node& worker1 = plan.inventory.nodes[2];
  const Service& worker = *plan.find_service("worker");
  worker1.vars["shard"] = "0; touch /tmp/owned $(id)";
  CHECK(*expand_command("check --shard=@shard@ @data_dir@/x", plan, worker1, worker, "t") ==
        "check --shard='0; touch /tmp/owned $(id)' /var/lib/demo/worker/x");
  worker1.vars["shard"] = "it's";
  CHECK(*expand_command("echo @shard@", plan, worker1, worker, "t") == "echo 'it'\\''s'");
  // Configs are not shell: values go in verbatim.
  CHECK(*expand_template("shard=@shard@", plan, worker1, worker, "t") == "shard=it's");
}

TEST_CASE("template errors name the file and line")
{
  Plan plan = testing::example_plan("render-errors");
  const Node& node = *plan.inventory.find("server1");
  const Service& db = *plan.find_service("db");
  CHECK(expand_template("a\n@nope@", plan, node, db, "x.conf.in").error() ==
        "x.conf.in:2: unknown template variable @nope@ (node server1)");
  CHECK(expand_template("mail me@home\n", plan, node, db, "x.conf.in").error() ==
        "x.conf.in:1: unmatched '@' (write @@ for a literal @)");
  CHECK(expand_template("@peers:ghosts:{name}@", plan, node, db, "x").error() ==
        "x:1: peers: group 'ghosts' has no nodes");
}

TEST_CASE("units run through current as a non-root user with hardening")
{
  Plan plan = testing::example_plan("render-unit");
  auto unit = render_unit(plan, *plan.inventory.find("server1"), *plan.find_service("db"));
  REQUIRE(unit);
  CHECK_THAT(*unit, Catch::Contains("ExecStart=\"/opt/demo/current/bin/db\" \"--name=server1\"\n"));
  CHECK_THAT(*unit, Catch::Contains("User=demo\n"));
  CHECK_THAT(*unit, Catch::Contains("Restart=always\n"));
  CHECK_THAT(*unit, Catch::Contains("NoNewPrivileges=yes\nProtectSystem=strict\nProtectHome=yes\nPrivateTmp=yes\n"));
  CHECK_THAT(*unit, Catch::Contains("StateDirectory=demo/db\n"));
  CHECK_THAT(*unit, Catch::Contains("ReadWritePaths=/var/lib/demo/db\n"));
  // ENV may hold secrets: in a 0640 file of the release, never in the unit (nor in systemctl show).
  CHECK_THAT(*unit, !Catch::Contains("GOMAXPROCS"));
  CHECK_THAT(*unit, Catch::Contains("EnvironmentFile=/opt/demo/current/etc/db/cluster-deploy.env\n"));
}

TEST_CASE("BUNDLE_LIBS ALL: the unit starts the program through the loader shipped with it")
{
  Plan plan = testing::example_plan("render-bundle-all");
  for (auto& service : plan.services) {
    service.bundle_libs = Service::Bundle::all;
  }
  const Node& server1 = *plan.inventory.find("server1");
  const Service& db = *plan.find_service("db");
  auto unit = render_unit(plan, server1, db, "ld-linux-x86-64.so.2");
  REQUIRE(unit);
  CHECK_THAT(*unit, Catch::Contains("ExecStart=\"/opt/demo/current/lib/db/ld-linux-x86-64.so.2\" \"--library-path\" "
                                    "\"/opt/demo/current/lib/db\" \"/opt/demo/current/bin/db\" \"--name=server1\"\n"));
  CHECK_THAT(*unit, Catch::Contains("SyslogIdentifier=db\n")); // the journal names the program, not the loader
  // Nothing the program runs inherits the shipped glibc: no LD_LIBRARY_PATH.
  CHECK_THAT(*unit, !Catch::Contains("LD_LIBRARY_PATH"));
  auto without = render_unit(plan, server1, db); // a script or a static program: started as it is
  REQUIRE(without);
  CHECK_THAT(*without, Catch::Contains("ExecStart=\"/opt/demo/current/bin/db\" \"--name=server1\"\n"));

  plan.services[0].bundle_libs = Service::Bundle::libraries; // db: the plain BUNDLE_LIBS is unchanged
  auto plain = render_unit(plan, server1, *plan.find_service("db"));
  REQUIRE(plain);
  CHECK_THAT(*plain, Catch::Contains("ExecStart=\"/opt/demo/current/bin/db\" \"--name=server1\"\n"));
  CHECK_THAT(*plain, Catch::Contains("Environment=\"LD_LIBRARY_PATH=/opt/demo/current/lib/db\"\n"));
  CHECK_THAT(*plain, !Catch::Contains("SyslogIdentifier"));
}

TEST_CASE("LIMITS become settings of the unit's [Service] section")
{
  Plan plan = testing::example_plan("render-limits");
  plan.services[0].limits = {{"MemoryMax", "64M"}, {"LimitNOFILE", "4096"}};
  auto unit = render_unit(plan, *plan.inventory.find("worker1"), plan.services[0]);
  REQUIRE(unit);
  auto service_section = unit->substr(unit->find("[Service]"), unit->find("[Install]") - unit->find("[Service]"));
  CHECK_THAT(service_section, Catch::Contains("\nMemoryMax=64M\nLimitNOFILE=4096\n"));
}

TEST_CASE("ENV values go to an environment file, quoted for systemd")
{
  Plan plan = testing::example_plan("render-env");
  for (auto& service : plan.services) {
    if (service.name == "db") {
      service.env.emplace_back("TOKEN", "a \"b\" $HOME \\ `x` @node@");
    }
  }
  auto text = render_environment(plan, *plan.inventory.find("server1"), *plan.find_service("db"));
  REQUIRE(text);
  CHECK(*text == "GOMAXPROCS=\"2\"\nTOKEN=\"a \\\"b\\\" \\$HOME \\\\ \\`x\\` server1\"\n");
  CHECK(render_environment(plan, *plan.inventory.find("worker1"), *plan.find_service("worker"))->empty());
}
