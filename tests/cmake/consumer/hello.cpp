// The consumer's service: prints its greeting ("--check" exits 0 at once).
#include <cstring>
#include <iostream>

int main(int argc, char** argv) {
  const char* greeting = "hello";
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--check") == 0) {
      return 0;
    }
    if (std::strcmp(argv[i], "--greeting") == 0 && i + 1 < argc) {
      greeting = argv[++i];
    }
  }
  std::cout << greeting << '\n';
  return 0;
}
