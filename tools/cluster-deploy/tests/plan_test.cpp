#include "plan.hpp"
#include "test_support.hpp"

using namespace deploy;

TEST_CASE("the plan is read with services in AFTER order")
{
  Plan plan = testing::example_plan("plan");
  CHECK(plan.cluster == "demo");
  CHECK(plan.ssh.parallel == 4);
  REQUIRE(plan.services.size() == 2);
  CHECK(plan.services[0].name == "db"); // declared second, but worker runs AFTER db
  CHECK(plan.services[0].bootstrap);
  CHECK(plan.services[0].health.kind == Health::Kind::http);
  CHECK(plan.services[0].health.port == 2379);
  CHECK(plan.services[1].after == std::vector<std::string>{"db"});
  CHECK(plan.services_on(*plan.inventory.find("worker1")).front()->name == "worker");
}

TEST_CASE("order_services refuses unknown names and cycles")
{
  std::vector<Service> services(2);
  services[0].name = "a";
  services[0].after = {"b"};
  services[1].name = "b";
  REQUIRE(order_services(services));
  CHECK(order_services(services)->front().name == "b");
  services[1].after = {"a"};
  CHECK(order_services(services).error() == "services a and others wait for each other (AFTER cycle)");
  services[1].after = {"nope"};
  CHECK(order_services(services).error() == "service b: AFTER names unknown service 'nope'");
}

TEST_CASE("malformed plans are refused with a clear message")
{
  CHECK(parse_plan("<plan", "p.xml").error().starts_with("p.xml:1: malformed plan"));
  CHECK(parse_plan("<plan version='2'/>", "p.xml").error() == "p.xml: not a version 1 ClusterDeploy plan");
  CHECK(parse_plan("<plan version='1' cluster='a;b'/>", "p.xml").error() == "p.xml: bad cluster name 'a;b'");
  // A control character anywhere (here a line feed in an ARGS value) would reach a shell word
  // or a unit line: refused, naming the plan's line.
  CHECK(parse_plan("<plan version='1' cluster='c'>\n<service name='s' group='g'>\n<program>/bin/true</program>\n"
                   "<arg>--name=a&#10;ExecStartPre=/bin/evil</arg></service></plan>",
                   "p.xml")
            .error() == "p.xml:4: <arg> control character U+000A (line feed)");
  CHECK(parse_plan("<plan version='1' cluster='c'><service name='s' group='g'/></plan>", "p.xml").error() ==
        "p.xml: service 's': no program");
  CHECK(parse_plan("<plan version='1' cluster='c'><service name='s' group='g'><program>/x</program>"
                   "<health kind='udp' port='1'/></service></plan>",
                   "p.xml")
            .error() == "p.xml: service 's': unknown health kind 'udp' (tcp, http or exec)");
}

TEST_CASE("load_plan checks programs and groups against the machine and inventory")
{
  auto dir = testing::scratch_dir("load-plan");
  std::string xml = "<plan version='1' cluster='c' inventory='" CD_TEST_DATA "/inv' output='" + dir.string() +
                    "'><service name='s' group='servers'><program>" + (dir / "missing").string() +
                    "</program></service></plan>";
  std::ofstream(dir / "plan.xml") << xml;
  CHECK(load_plan(dir / "plan.xml").error() ==
        "service s: program " + (dir / "missing").string() + " does not exist (build it first)");
  std::ofstream(dir / "missing") << "x";
  CHECK(load_plan(dir / "plan.xml"));
  std::ofstream(dir / "plan.xml") << "<plan version='1' cluster='c' inventory='" CD_TEST_DATA "/inv' output='x'>"
                                     "<service name='s' group='nobody'><program>/bin/sh</program></service></plan>";
  CHECK(load_plan(dir / "plan.xml").error() == "service s: group 'nobody' has no nodes in " CD_TEST_DATA "/inv");
  CHECK(load_plan(dir / "absent.xml").error() ==
        "cannot read plan " + (dir / "absent.xml").string() + " (configure the project first)");
}

TEST_CASE("SERIAL is read from the plan")
{
  auto plan = parse_plan("<plan version='1' cluster='c'><service name='s' group='g' serial='2'>"
                         "<program>/x</program></service></plan>",
                         "p.xml");
  REQUIRE(plan);
  CHECK(plan->services[0].serial.count == 2);
}

TEST_CASE("SERIAL and MAX_FAIL take a count or a percentage - QUORUM is read")
{
  auto plan = parse_plan("<plan version='1' cluster='c'><service name='s' group='g' serial='25%' canary='1' "
                         "max-fail='2'><program>/x</program><quorum command='check'/></service></plan>",
                         "p.xml");
  REQUIRE(plan);
  const Service& service = plan->services[0];
  CHECK(service.serial.percent == 25);
  CHECK(service.serial.of(10) == 3); // rounded up
  CHECK(service.canary == 1);
  CHECK(service.max_fail.count == 2);
  CHECK(service.quorum == "check");
  CHECK(service.is_quorum_group());
  CHECK_FALSE(parse_amount("150%", "SERIAL"));
  CHECK_FALSE(parse_amount("x", "SERIAL"));
  CHECK(parse_amount("", "SERIAL")->given() == false);
}

TEST_CASE("SETTLE: the service's own settle window, or the run's when absent")
{
  auto plan_with = [](const std::string& attribute) {
    return parse_plan("<plan version='1' cluster='c'><service name='s' group='g'" + attribute +
                          "><program>/x</program></service></plan>",
                      "p.xml");
  };
  CHECK(plan_with("")->services[0].settle < 0);
  CHECK(plan_with(" settle='0'")->services[0].settle == 0);
  CHECK(plan_with(" settle='30'")->services[0].settle == 30);
  auto bad = plan_with(" settle='601'");
  REQUIRE_FALSE(bad);
  CHECK(bad.error() == "p.xml: service 's': settle must be 0 to 600 seconds");
}

TEST_CASE("BUNDLE_LIBS: bundle-libs is absent, true (the libraries but glibc's) or all (the whole closure)")
{
  auto plan_with = [](const std::string& attribute) {
    return parse_plan("<plan version='1' cluster='c'><service name='s' group='g'" + attribute +
                          "><program>/x</program></service></plan>",
                      "p.xml");
  };
  CHECK(plan_with("")->services[0].bundle_libs == Service::Bundle::none);
  CHECK(plan_with(" bundle-libs='true'")->services[0].bundle_libs == Service::Bundle::libraries);
  CHECK(plan_with(" bundle-libs='all'")->services[0].bundle_libs == Service::Bundle::all);
  auto bad = plan_with(" bundle-libs='some'");
  REQUIRE_FALSE(bad);
  CHECK(bad.error() == "p.xml: service 's': bundle-libs must be true or all, not 'some'");
}

TEST_CASE("LIMITS are read from the plan and unknown settings or odd values refused")
{
  auto plan = parse_plan("<plan version='1' cluster='c'><service name='s' group='g'><program>/x</program>"
                         "<limit name='MemoryMax' value='64M'/><limit name='LimitNOFILE' value='1024:4096'/>"
                         "</service></plan>",
                         "p.xml");
  REQUIRE(plan);
  CHECK(plan->services[0].limits ==
        std::vector<std::pair<std::string, std::string>>{{"MemoryMax", "64M"}, {"LimitNOFILE", "1024:4096"}});
  auto bad = [](const std::string& limit) {
    return parse_plan("<plan version='1' cluster='c'><service name='s' group='g'><program>/x</program>" + limit +
                          "</service></plan>",
                      "p.xml");
  };
  CHECK(bad("<limit name='ExecStartPre' value='1'/>").error() == "p.xml: service 's': bad limit 'ExecStartPre=1'");
  CHECK_FALSE(bad("<limit name='MemoryMax' value='1\nExecStartPre=/bin/sh'/>"));
}
