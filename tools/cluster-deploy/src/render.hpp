// Rendering: config templates (@var@) and systemd units for a service on a node.
#pragma once

#include "error.hpp"
#include "layout.hpp"
#include "plan.hpp"

#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace deploy {

/// Expands @name@ placeholders for `service` on `node`. `origin` names the text in
/// errors (a file name; the line is added). `@@` is a literal '@'.
Result<std::string> expand_template(std::string_view text, const Plan& plan, const Node& node, const Service& service,
                                    const std::string& origin);

/// expand_template for a shell command run on the node (HEALTH exec, QUORUM, LEADER):
/// a value with characters the shell would interpret is substituted single-quoted, so
/// an inventory value is always one word and never code.
Result<std::string> expand_command(std::string_view text, const Plan& plan, const Node& node, const Service& service,
                                   const std::string& origin);

/// The systemd unit for `service` on `node`, with hardening and ExecStart through `current`.
/// With BUNDLE_LIBS ALL, `loader` is the file name of the loader shipped in the service's
/// library folder, and ExecStart starts the program through it (an error when empty).
Result<std::string> render_unit(const Plan& plan, const Node& node, const Service& service,
                                const std::string& loader = {});

/// The service's ENV as a systemd EnvironmentFile (NAME="value" lines); empty when it
/// has none. ENV values may be secrets: they never go into the unit file.
Result<std::string> render_environment(const Plan& plan, const Node& node, const Service& service);

} // namespace deploy
