#include "ssh_config_warnings.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <vector>

namespace deploy {
namespace {

std::string lower(std::string text)
{
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  return text;
}

/// What the helper does instead, for the options users rely on most.
const std::map<std::string, std::string>& consequences()
{
  static const std::map<std::string, std::string> table = {
      {"identitiesonly", "every key in ssh-agent is offered before the IdentityFile keys, so a server's "
                         "MaxAuthTries can refuse the login before the right key; keep fewer keys in the agent "
                         "or unset SSH_AUTH_SOCK"},
      {"serveraliveinterval", "no keep-alives are sent; every command has its own timeout"},
      {"serveralivecountmax", "no keep-alives are sent; every command has its own timeout"},
      {"connectionattempts", "each node gets one connection attempt"},
      {"hostkeyalias", "host keys are looked up under the node's address (or Host alias) and port"},
      {"checkhostip", "host keys are looked up under the node's address (or Host alias) and port"},
      {"preferredauthentications", "only public keys are used (ssh-agent, then IdentityFile)"},
      {"certificatefile", "certificates are not offered, only the keys"},
      {"forwardagent", "the agent is not forwarded to the nodes"},
      {"addkeystoagent", "keys are not added to the agent"},
      {"tcpkeepalive", "TCP keep-alives stay the system's default"},
      {"pkcs11provider", "PKCS#11 keys are not used"},
  };
  return table;
}

/// Glob match of an ssh_config Host pattern (* and ?), case-insensitive.
bool glob_match(std::string_view pattern, std::string_view text)
{
  if (pattern.empty()) {
    return text.empty();
  }
  if (pattern.front() == '*') {
    for (size_t skip = 0; skip <= text.size(); ++skip) {
      if (glob_match(pattern.substr(1), text.substr(skip))) {
        return true;
      }
    }
    return false;
  }
  if (text.empty()) {
    return false;
  }
  bool same = pattern.front() == '?' || std::tolower(static_cast<unsigned char>(pattern.front())) ==
                                            std::tolower(static_cast<unsigned char>(text.front()));
  return same && glob_match(pattern.substr(1), text.substr(1));
}

bool host_block_matches(const std::vector<std::string>& patterns, std::string_view host)
{
  bool matched = false;
  for (const auto& pattern : patterns) {
    if (!pattern.empty() && pattern.front() == '!') {
      if (glob_match(std::string_view(pattern).substr(1), host)) {
        return false; // a negated match excludes the block
      }
    } else if (glob_match(pattern, host)) {
      matched = true;
    }
  }
  return matched;
}

/// Options that change nothing for the helper: it never prompts.
bool harmless_option(const std::string& name)
{
  return name == "batchmode";
}

} // namespace

std::optional<bool> identities_only_for(std::string_view config_text, std::string_view host)
{
  std::istringstream in{std::string(config_text)};
  std::string line;
  bool applies = true; // lines before the first Host/Match apply to every host
  while (std::getline(in, line)) {
    auto hash = line.find('#');
    std::replace(line.begin(), line.end(), '=', ' ');
    std::istringstream words(line.substr(0, hash));
    std::string keyword;
    if (!(words >> keyword)) {
      continue;
    }
    keyword = lower(keyword);
    std::vector<std::string> args;
    for (std::string word; words >> word;) {
      args.push_back(word);
    }
    if (keyword == "host") {
      applies = host_block_matches(args, host);
    } else if (keyword == "match") {
      applies = args.size() == 1 && lower(args[0]) == "all"; // other criteria: not evaluated
    } else if (keyword == "identitiesonly" && applies && !args.empty()) {
      return lower(args[0]) == "yes";
    }
  }
  return std::nullopt;
}

std::string proxy_jump_with_config(const std::string& proxy_command, const std::string& config)
{
  if (config.empty() || !proxy_command.starts_with("ssh ") ||
      proxy_command.find(" -W '[%h]:%p' ") == std::string::npos || proxy_command.find(" -F ") != std::string::npos) {
    return proxy_command;
  }
  std::string quoted = "'";
  for (char c : config) {
    quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  }
  return "ssh -F " + quoted + "' " + proxy_command.substr(4);
}

bool handled_by_helper(const IgnoredOption& option, std::string_view config_text)
{
  if (lower(option.name) != "identitiesonly") {
    return false;
  }
  std::istringstream in{std::string(config_text)};
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    if (number == option.line) {
      std::istringstream words(line);
      std::string keyword;
      return words >> keyword && lower(keyword).starts_with("identitiesonly");
    }
  }
  return false; // in an included file: not evaluated, so warned about
}

std::optional<IgnoredOption> parse_libssh_config_message(std::string_view message)
{
  for (auto [marker, applicable] :
       {std::pair{"Unsupported option: ", true}, std::pair{"Unapplicable option: ", false}}) {
    auto at = message.find(marker);
    if (at == std::string_view::npos) {
      continue;
    }
    auto rest = message.substr(at + std::string_view(marker).size());
    auto comma = rest.find(", line: ");
    if (comma == std::string_view::npos || comma == 0) {
      return std::nullopt;
    }
    IgnoredOption option{std::string(rest.substr(0, comma)), 0, applicable};
    auto number = rest.substr(comma + 8);
    for (char c : number) {
      if (c < '0' || c > '9') {
        break;
      }
      option.line = option.line * 10 + (c - '0');
    }
    return option;
  }
  return std::nullopt;
}

std::string ignored_option_warning(const IgnoredOption& option, const std::string& config)
{
  std::string where = (config.empty() ? std::string("~/.ssh/config") : config) + " (or a file it includes), line " +
                      std::to_string(option.line);
  if (!option.applicable) {
    return "ssh_config: " + option.name + " at " + where + " does not apply (one session per node, no forwarding)";
  }
  auto it = consequences().find(lower(option.name));
  return "ssh_config: " + option.name + " at " + where + " is ignored (libssh 0.10 does not support it)" +
         (it == consequences().end() ? std::string() : ": " + it->second);
}

void warn_once(const IgnoredOption& option, const std::string& config)
{
  static std::mutex mutex;
  static std::set<std::string> seen;
  {
    std::lock_guard lock(mutex);
    if (!seen.insert(lower(option.name)).second) {
      return;
    }
  }
  if (option.applicable && !harmless_option(lower(option.name))) {
    spdlog::warn("{}", ignored_option_warning(option, config));
  } else {
    spdlog::debug("{}", ignored_option_warning(option, config));
  }
}

} // namespace deploy
