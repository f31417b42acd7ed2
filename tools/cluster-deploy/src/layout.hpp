// The paths on a node that the helper itself writes into configs and units, and the paths
// inside a release. The scripts on the node spell theirs in ../remote/prelude.sh; the unit
// test "layout: the node scripts and the helper agree" runs the prelude and compares.
#pragma once

#include <string>
#include <string_view>

namespace deploy {

/// Where things live on a node of `cluster`.
struct NodeLayout {
  std::string cluster;

  /// Releases, `current`, started records, deploy.log and our mark.
  std::string root() const { return "/opt/" + cluster; }
  /// The release in use: a symlink to releases/<id>, switched with rename(2).
  std::string current() const { return root() + "/current"; }
  /// `service`'s data; only `clean --purge-data` removes it.
  std::string data_dir(const std::string& service) const { return "/var/lib/" + cluster + "/" + service; }
  /// `service`'s configs, through `current`.
  std::string etc_dir(const std::string& service) const { return current() + "/" + release_config_dir(service); }
  std::string unit_name(const std::string& service) const { return cluster + "-" + service + ".service"; }
  /// The services' user and group (created with our mark as its comment).
  std::string user() const { return cluster; }
  /// A line of every unit file we install.
  std::string unit_mark() const { return "# cluster-deploy: cluster=" + cluster; }

  // Paths inside a release folder (and its MANIFEST).
  static std::string release_program(const std::string& file_name) { return "bin/" + file_name; }
  static std::string release_config_dir(const std::string& service) { return "etc/" + service; }
  /// The shared libraries shipped with the service's program (BUNDLE_LIBS).
  static std::string release_library_dir(const std::string& service) { return "lib/" + service; }
  static std::string release_unit(const std::string& unit_name) { return "units/" + unit_name; }
  /// The service's ENV values (they may be secrets: a config, 0640, never in the unit file).
  static std::string release_env_file(const std::string& service)
  {
    return release_config_dir(service) + "/cluster-deploy.env";
  }
  /// The unit file name of a release path "units/<name>"; empty for any other path.
  static std::string unit_of_release_path(std::string_view path)
  {
    return path.starts_with("units/") ? std::string(path.substr(6)) : std::string();
  }
};

} // namespace deploy
