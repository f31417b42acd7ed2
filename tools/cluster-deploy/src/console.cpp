#include "console.hpp"

#include <cstdio>
#include <string>

namespace deploy {

void print_out(std::string_view text)
{
  std::fwrite(text.data(), 1, text.size(), stdout);
}

void print_err(std::string_view text)
{
  std::fwrite(text.data(), 1, text.size(), stderr);
}

void print_note(std::string_view message)
{
  // One write, so that notes of threads do not interleave within a line.
  std::string line = "cluster-deploy: ";
  line.append(message).append("\n");
  print_err(line);
}

} // namespace deploy
