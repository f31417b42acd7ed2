#include "preflight.hpp"

namespace deploy {

std::string preflight_request(const NodeRelease& release)
{
  std::string text;
  for (const auto& program : release.programs) {
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
