#include "quote.hpp"

#include <cstdio>

#include <algorithm>

namespace deploy {

std::string shell_quote(std::string_view word)
{
  std::string quoted = "'";
  for (char c : word) {
    if (c == '\'') {
      quoted += "'\\''";
    } else {
      quoted += c;
    }
  }
  quoted += '\'';
  return quoted;
}

std::string shell_quote_if_needed(std::string_view word)
{
  auto plain = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           std::string_view("_./:=,+%@-").find(c) != std::string_view::npos;
  };
  bool safe = !word.empty() && std::all_of(word.begin(), word.end(), plain);
  return safe ? std::string(word) : shell_quote(word);
}

std::string shell_join(const std::vector<std::string>& words)
{
  std::string line;
  for (const auto& word : words) {
    if (!line.empty()) {
      line += ' ';
    }
    line += shell_quote(word);
  }
  return line;
}

namespace {

/// Double-quotes `text` for a unit file; `$` is doubled only where systemd expands it.
std::string systemd_double_quote(std::string_view text, bool escape_dollar)
{
  std::string quoted = "\"";
  for (char c : text) {
    switch (c) {
    case '"':
      quoted += "\\\"";
      break;
    case '\\':
      quoted += "\\\\";
      break;
    case '%':
      quoted += "%%";
      break;
    case '\n':
      quoted += "\\n";
      break;
    case '\t':
      quoted += "\\t";
      break;
    case '$':
      quoted += escape_dollar ? "$$" : "$";
      break;
    default:
      quoted += c;
    }
  }
  quoted += '"';
  return quoted;
}

} // namespace

std::string systemd_quote(std::string_view word)
{
  return systemd_double_quote(word, true);
}

std::string systemd_env_quote(std::string_view assignment)
{
  return systemd_double_quote(assignment, false);
}

bool is_safe_name(std::string_view name)
{
  if (name.empty() || name.front() == '.' || name.front() == '-') {
    return false;
  }
  for (char c : name) {
    bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    if (!ok) {
      return false;
    }
  }
  return true;
}

std::string control_character_in(std::string_view text)
{
  for (char c : text) {
    auto byte = static_cast<unsigned char>(c);
    if ((byte >= 0x20 && byte != 0x7f) || byte == '\t') {
      continue;
    }
    char code[8];
    std::snprintf(code, sizeof code, "U+%04X", byte);
    std::string name = byte == '\r' ? " (carriage return: save the file with Unix line ends)"
                       : byte == '\n' ? " (line feed)"
                       : byte == 0     ? " (NUL)"
                                       : "";
    return code + name;
  }
  return {};
}

std::string replace_all(std::string text, std::string_view from, std::string_view to)
{
  for (auto pos = text.find(from); pos != std::string::npos; pos = text.find(from, pos + to.size())) {
    text.replace(pos, from.size(), to);
  }
  return text;
}

} // namespace deploy
