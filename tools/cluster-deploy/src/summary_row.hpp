// One row of a command's summary, shared by the text table (output.cpp), --json
// (json_report.cpp) and JUnit (report.cpp).
#pragma once

#include <string>

namespace deploy {

/// One row of the summary: what happened to one service (or the node) on one node.
struct SummaryRow {
  std::string node;
  std::string service; ///< "-" for node-level steps
  std::string action;  ///< unchanged, restarted, started, stopped, ...
  bool ok = true;
  std::string detail; ///< failure reason
  double seconds = 0;
};

} // namespace deploy
