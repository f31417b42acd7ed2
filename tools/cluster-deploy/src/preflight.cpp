#include "preflight.hpp"

#include "layout.hpp"

#include <algorithm>
#include <fstream>
#include <set>

namespace deploy {

namespace {

/// "setting <unit> <section> <key>=<value>" for each setting of the unit file at `local`.
std::string unit_settings(const std::string& unit, const std::filesystem::path& local)
{
  std::string text, section, line;
  std::ifstream in(local);
  while (std::getline(in, line)) {
    if (line.size() > 2 && line.front() == '[' && line.back() == ']') {
      section = line.substr(1, line.size() - 2);
    } else if (!section.empty() && !line.empty() && line.front() != '#' && line.find('=') != std::string::npos) {
      text += "setting " + unit + " " + section + " " + line + "\n";
    }
  }
  return text;
}

/// The services whose unit `changes` installs: their programs run another way from now on
/// (a unit that ships glibc no more, BUNDLE_LIBS ALL taken away), so they are asked about
/// again even where the node has the program.
std::set<std::string> services_with_new_units(const NodeRelease& release, const ChangeSet& changes)
{
  std::set<std::string> services;
  for (const auto& unit : changes.units_to_install) {
    for (const auto& file : release.files) {
      if (file.path == NodeLayout::release_unit(unit)) {
        services.insert(file.services.begin(), file.services.end());
      }
    }
  }
  return services;
}

/// True when the node must be asked about `program`: it is sent, or a service that runs it
/// gets a new unit. A program the node has, run as before, was checked when it was sent.
bool ask_about(const ReleaseProgram& program, const NodeRelease& release, const ChangeSet& changes,
               const std::set<std::string>& new_units)
{
  if (std::any_of(changes.send.begin(), changes.send.end(),
                  [&](const ReleaseFile* file) { return file->path == program.path; })) {
    return true;
  }
  auto file = std::find_if(release.files.begin(), release.files.end(),
                           [&](const ReleaseFile& f) { return f.path == program.path; });
  return file != release.files.end() && std::any_of(file->services.begin(), file->services.end(),
                                                    [&](const std::string& s) { return new_units.count(s) != 0; });
}

} // namespace

std::string preflight_request(const NodeRelease& release, const ChangeSet& changes)
{
  std::string text;
  auto new_units = services_with_new_units(release, changes);
  for (const auto& program : release.programs) {
    if (!ask_about(program, release, changes, new_units)) {
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
  for (const auto& unit : changes.units_to_install) {
    auto path = NodeLayout::release_unit(unit);
    auto file =
        std::find_if(release.files.begin(), release.files.end(), [&](const ReleaseFile& f) { return f.path == path; });
    if (file != release.files.end()) {
      text += unit_settings(unit, file->local);
    }
  }
  return text;
}

} // namespace deploy
