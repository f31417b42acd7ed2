#include "interrupt.hpp"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstring>

namespace deploy {

namespace {

std::atomic<int> g_signal{0};

void on_signal(int signo)
{
  int expected = 0;
  if (!g_signal.compare_exchange_strong(expected, signo)) { // the second: stop now
    signal(signo, SIG_DFL);
    raise(signo);
    return;
  }
  const char* text = "\ncluster-deploy: interrupted: finishing the steps under way and giving the nodes back "
                     "(interrupt again to stop at once)\n";
  ssize_t ignored = write(STDERR_FILENO, text, std::strlen(text));
  (void)ignored;
}

} // namespace

void catch_interrupts()
{
  struct sigaction action {};
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

int interrupted()
{
  return g_signal.load();
}

std::string interrupt_name()
{
  switch (g_signal.load()) {
  case SIGINT:
    return "SIGINT";
  case SIGTERM:
    return "SIGTERM";
  default:
    return "";
  }
}

} // namespace deploy
