#include "parallel.hpp"

#include <algorithm>
#include <atomic>
#include <thread>
#include <vector>

namespace deploy {

void run_parallel(std::size_t count, int limit, const std::function<void(std::size_t)>& task)
{
  std::size_t threads = std::min<std::size_t>(count, static_cast<std::size_t>(std::max(limit, 1)));
  if (threads <= 1) {
    for (std::size_t i = 0; i < count; ++i) {
      task(i);
    }
    return;
  }
  std::atomic<std::size_t> next{0};
  std::vector<std::jthread> workers;
  for (std::size_t t = 0; t < threads; ++t) {
    workers.emplace_back([&] {
      for (std::size_t i = next++; i < count; i = next++) {
        task(i);
      }
    });
  }
}

} // namespace deploy
