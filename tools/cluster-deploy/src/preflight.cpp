#include "preflight.hpp"

#include <algorithm>

namespace deploy {

std::string preflight_request(const NodeRelease& release, const ChangeSet& changes)
{
  std::string text;
  for (const auto& program : release.programs) {
    bool sent = std::any_of(changes.send.begin(), changes.send.end(),
                            [&](const ReleaseFile* file) { return file->path == program.path; });
    if (!sent) { // the node has it already: it was checked when it was sent
      continue;
    }
    const ProgramNeeds& needs = program.needs;
    text += "program " + program.path + " " + std::to_string(needs.machine) + " " +
            (needs.interpreter.empty() ? "-" : needs.interpreter) + "\n";
    for (const auto& library : needs.libraries) {
      text += "needs " + program.path + " " + library.soname;
      for (const auto& version : library.versions) {
        text += " " + version;
      }
      text += "\n";
    }
  }
  return text;
}

} // namespace deploy
