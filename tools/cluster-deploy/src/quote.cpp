#include "quote.hpp"

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

std::string systemd_quote(std::string_view word)
{
  std::string quoted = "\"";
  for (char c : word) {
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
    case '$':
      quoted += "$$";
      break;
    case '\n':
      quoted += "\\n";
      break;
    case '\t':
      quoted += "\\t";
      break;
    default:
      quoted += c;
    }
  }
  quoted += '"';
  return quoted;
}

std::string systemd_env_quote(std::string_view assignment)
{
  std::string quoted = "\"";
  for (char c : assignment) {
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
    default:
      quoted += c;
    }
  }
  quoted += '"';
  return quoted;
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

} // namespace deploy
