#pragma once

namespace worker {

/// The whole program: `example-worker --config <file>`. Exit codes: 0 after SIGTERM/SIGINT,
/// 2 for usage or config errors, 1 if the data dir marker cannot be written.
int run(int argc, char** argv);

} // namespace worker
