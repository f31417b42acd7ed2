#include "report.hpp"

#include <tinyxml2.h>

#include <numeric>

namespace deploy {
namespace {

/// Length of the valid UTF-8 sequence starting at text[i], or 0 when invalid.
size_t utf8_length(std::string_view text, size_t i)
{
  auto byte = static_cast<unsigned char>(text[i]);
  size_t length = byte < 0x80 ? 1 : (byte >> 5) == 0x6 ? 2 : (byte >> 4) == 0xe ? 3 : (byte >> 3) == 0x1e ? 4 : 0;
  if (length == 0 || i + length > text.size()) {
    return 0;
  }
  for (size_t k = 1; k < length; ++k) {
    if ((static_cast<unsigned char>(text[i + k]) >> 6) != 0x2) {
      return 0;
    }
  }
  return length;
}

} // namespace

std::string xml_safe(std::string_view text)
{
  std::string safe;
  for (size_t i = 0; i < text.size();) {
    auto byte = static_cast<unsigned char>(text[i]);
    size_t length = utf8_length(text, i);
    if (length == 0) {
      safe += '?';
      ++i;
      continue;
    }
    bool control = byte < 0x20 && byte != '\t' && byte != '\n' && byte != '\r';
    if (!control && byte != 0x7f) {
      safe.append(text.substr(i, length));
    }
    i += length;
  }
  return safe;
}

Result<void> write_junit(const std::filesystem::path& file, const std::string& suite,
                         const std::vector<SummaryRow>& rows)
{
  tinyxml2::XMLDocument document;
  document.InsertEndChild(document.NewDeclaration());
  auto* testsuite = document.NewElement("testsuite");
  document.InsertEndChild(testsuite);
  int failures = 0;
  double seconds = 0;
  for (const auto& row : rows) {
    auto* testcase = testsuite->InsertNewChildElement("testcase");
    testcase->SetAttribute("classname", xml_safe(row.node).c_str());
    testcase->SetAttribute("name", xml_safe(row.service + " " + row.action).c_str());
    testcase->SetAttribute("time", row.seconds);
    if (!row.ok) {
      ++failures;
      auto* failure = testcase->InsertNewChildElement("failure");
      failure->SetAttribute("message", xml_safe(row.detail).c_str());
      failure->SetAttribute("type", xml_safe(row.action).c_str());
    }
    seconds += row.seconds;
  }
  testsuite->SetAttribute("name", xml_safe(suite).c_str());
  testsuite->SetAttribute("tests", static_cast<int>(rows.size()));
  testsuite->SetAttribute("failures", failures);
  testsuite->SetAttribute("errors", 0);
  testsuite->SetAttribute("time", seconds);
  if (document.SaveFile(file.c_str()) != tinyxml2::XML_SUCCESS) {
    return fail("cannot write JUnit report " + file.string() + ": " + document.ErrorStr());
  }
  return {};
}

} // namespace deploy
