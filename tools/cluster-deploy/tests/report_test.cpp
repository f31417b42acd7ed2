#include "report.hpp"

#include <catch2/catch.hpp>
#include <tinyxml2.h>

#include <filesystem>

using namespace deploy;

TEST_CASE("xml_safe drops control characters and invalid UTF-8")
{
  CHECK(xml_safe("\x1b[31mred\x1b[0m\ttab\n") == "[31mred[0m\ttab\n");
  CHECK(xml_safe("caf\xc3\xa9") == "caf\xc3\xa9");
  CHECK(xml_safe("bad\xff\xfe") == "bad??");
}

TEST_CASE("the JUnit report has one testcase per row and real failure messages")
{
  auto file = std::filesystem::temp_directory_path() / "cd-junit-test.xml";
  std::vector<SummaryRow> rows = {{"server1", "etcd", "restarted", true, "", 1.5},
                                  {"server2", "etcd", "start", false, "unit is failed \x1b[1m(exit)", 2.0}};
  REQUIRE(write_junit(file, "cluster-deploy deploy demo", rows));
  tinyxml2::XMLDocument document;
  REQUIRE(document.LoadFile(file.c_str()) == tinyxml2::XML_SUCCESS);
  auto* suite = document.FirstChildElement("testsuite");
  REQUIRE(suite);
  CHECK(suite->IntAttribute("tests") == 2);
  CHECK(suite->IntAttribute("failures") == 1);
  auto* second = suite->FirstChildElement("testcase")->NextSiblingElement("testcase");
  CHECK(std::string(second->Attribute("classname")) == "server2");
  CHECK(std::string(second->FirstChildElement("failure")->Attribute("message")) == "unit is failed [1m(exit)");
  std::filesystem::remove(file);
}
