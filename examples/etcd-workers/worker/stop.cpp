#include "stop.hpp"

#include <signal.h>

#include <csignal>
#include <thread>

namespace worker {
namespace {

volatile std::sig_atomic_t g_stop = 0;

extern "C" void on_stop_signal(int)
{
  g_stop = 1;
}

} // namespace

void install_stop_handlers()
{
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = 0; // no SA_RESTART: interrupt blocking socket calls
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGINT, &action, nullptr);
}

bool stop_requested()
{
  return g_stop != 0;
}

bool sleep_unless_stopped(std::chrono::milliseconds duration)
{
  const auto deadline = std::chrono::steady_clock::now() + duration;
  while (!stop_requested() && std::chrono::steady_clock::now() < deadline) {
    const auto left = deadline - std::chrono::steady_clock::now();
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(left, std::chrono::milliseconds(50)));
  }
  return !stop_requested();
}

} // namespace worker
