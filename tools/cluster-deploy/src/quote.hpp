// Quoting for the two places our strings are parsed again: the remote shell and
// systemd unit files.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace deploy {

/// Quotes `word` for a POSIX shell: the result is always exactly one argument.
std::string shell_quote(std::string_view word);

/// `text` with every `from` replaced by `to` (templates, patterns like "{name}").
std::string replace_all(std::string text, std::string_view from, std::string_view to);

/// `word` as is when the shell reads it as exactly that word ([A-Za-z0-9_./:=,+%@-]+),
/// else shell_quote(word).
std::string shell_quote_if_needed(std::string_view word);

/// Joins `words` into a shell command line, quoting each.
std::string shell_join(const std::vector<std::string>& words);

/// Quotes one ExecStart= argument for systemd: no word splitting, no
/// environment ($) or specifier (%) expansion.
std::string systemd_quote(std::string_view word);

/// Quotes one Environment= assignment: systemd expands % specifiers there, but
/// not $ (unlike ExecStart=).
std::string systemd_env_quote(std::string_view assignment);

/// True for names we use unquoted in paths and unit names: [A-Za-z0-9._-]+,
/// not starting with '.' or '-'.
bool is_safe_name(std::string_view name);

/// The first control character of `text` (a byte below 0x20 other than tab, or 0x7f),
/// described for an error message ("U+000D (carriage return)"); empty when there is none.
/// Plans and inventories refuse them: they would end up in shell words, units and configs.
std::string control_character_in(std::string_view text);

} // namespace deploy
