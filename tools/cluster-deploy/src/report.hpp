// A JUnit XML report of a run (one testcase per node and service), for CI dashboards.
#pragma once

#include "error.hpp"
#include "summary_row.hpp"

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace deploy {

/// Drops what XML 1.0 cannot hold (control characters, invalid UTF-8): remote
/// output often carries ANSI escapes.
std::string xml_safe(std::string_view text);

/// Writes `rows` as a JUnit <testsuite name=suite>: classname = node, name =
/// service, a failed row becomes <failure message=detail>.
Result<void> write_junit(const std::filesystem::path& file, const std::string& suite,
                         const std::vector<SummaryRow>& rows);

} // namespace deploy
