#pragma once

#include <chrono>

namespace worker {

/// Makes SIGTERM and SIGINT request a stop. Installed without SA_RESTART, so a blocking
/// connect/send/recv returns EINTR at once and the worker exits well within a second.
void install_stop_handlers();

bool stop_requested();

/// Sleeps for `duration` in short slices; false if a stop was requested meanwhile.
bool sleep_unless_stopped(std::chrono::milliseconds duration);

} // namespace worker
