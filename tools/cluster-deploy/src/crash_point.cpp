#include "crash_point.hpp"

#include "console.hpp"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>

namespace deploy {

namespace {

struct CrashAt {
  std::string point; // empty: no crash point selected
  int nth = 1;
  int signal = SIGKILL;
  int reached = 0;
};

CrashAt parse_crash_at(const char* text)
{
  CrashAt at;
  if (!text || !*text) {
    return at;
  }
  std::string spec = text;
  if (auto colon = spec.find(':'); colon != std::string::npos) {
    std::string name = spec.substr(colon + 1);
    at.signal = name == "INT" ? SIGINT : name == "TERM" ? SIGTERM : name == "STOP" ? SIGSTOP : SIGKILL;
    spec.resize(colon);
  }
  if (auto at_sign = spec.find('@'); at_sign != std::string::npos) {
    at.nth = std::max(1, std::atoi(spec.c_str() + at_sign + 1));
    spec.resize(at_sign);
  }
  at.point = spec;
  return at;
}

} // namespace

void crash_point(std::string_view point)
{
  static std::mutex mutex;
  static CrashAt at = parse_crash_at(std::getenv("CLUSTER_DEPLOY_CRASH_AT"));
  if (at.point.empty() || point != at.point) {
    return;
  }
  std::lock_guard lock(mutex);
  if (++at.reached != at.nth) {
    return;
  }
  print_note("crash point " + at.point + " reached (CLUSTER_DEPLOY_CRASH_AT)");
  std::fflush(stderr);
  kill(getpid(), at.signal);
}

} // namespace deploy
