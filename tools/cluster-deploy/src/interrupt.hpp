// Ctrl-C and SIGTERM (a CI job's timeout) end a run that changes nodes cleanly: no new
// step starts, the steps in flight finish (each bounded by its own timeout), the fan-out's
// key is taken off every node, the locks are given back, the summary says what was done
// and what was not, and the exit status is 130 (SIGINT) or 143 (SIGTERM). A second
// signal stops at once, as the first used to (the next run copes: see cluster_lock).
#pragma once

#include <string>

namespace deploy {

/// Installs the handlers (SA_RESTART: calls in flight go on). Idempotent.
void catch_interrupts();

/// The signal that asked the run to stop (SIGINT or SIGTERM), or 0.
int interrupted();

/// "SIGINT" or "SIGTERM" for interrupted(), else "".
std::string interrupt_name();

} // namespace deploy
