// Bounded parallelism over nodes: at most `limit` run at once.
#pragma once

#include <cstddef>
#include <functional>

namespace deploy {

/// Calls `task(i)` for every i in [0, count) on at most `limit` threads, and
/// returns when all are done. If a task throws, the others still run and the first
/// exception is rethrown here.
void run_parallel(std::size_t count, int limit, const std::function<void(std::size_t)>& task);

} // namespace deploy
