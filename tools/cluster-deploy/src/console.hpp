// The one place that writes to the terminal. stdout carries what a command reports (a table,
// JSON, names one a line, evidence paths); stderr carries progress, notes and errors. Output
// (progress lines, the live status line, the summary) writes through these too.
#pragma once

#include <string_view>

namespace deploy {

/// Writes `text` to stdout as it is.
void print_out(std::string_view text);
/// Writes `text` to stderr as it is (a progress line, the live status line).
void print_err(std::string_view text);
/// Writes "cluster-deploy: <message>" as one line on stderr; an error or a warning says so
/// at the start of `message` ("error: ...", "warning: ...").
void print_note(std::string_view message);

} // namespace deploy
