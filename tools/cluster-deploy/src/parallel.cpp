#include "parallel.hpp"

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace deploy {

void run_parallel(std::size_t count, int limit, const std::function<void(std::size_t)>& task)
{
  std::size_t threads = std::min<std::size_t>(count, static_cast<std::size_t>(std::max(limit, 1)));
  std::atomic<std::size_t> next{0};
  std::exception_ptr first_error;
  std::mutex error_mutex;
  auto work = [&] {
    for (std::size_t i = next++; i < count; i = next++) {
      try {
        task(i);
      } catch (...) { // an exception must not terminate the process from a worker thread
        std::lock_guard lock(error_mutex);
        if (!first_error) {
          first_error = std::current_exception();
        }
      }
    }
  };
  {
    std::vector<std::jthread> workers;
    for (std::size_t t = 1; t < threads; ++t) {
      workers.emplace_back(work);
    }
    work();
  }
  if (first_error) {
    std::rethrow_exception(first_error);
  }
}

} // namespace deploy
