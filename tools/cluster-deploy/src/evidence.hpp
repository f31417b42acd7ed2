// The evidence of a failed test: what each node logged in the test's window, the faults that
// were on, what the services did, what the test's client saw; read from collect.sh's output
// and written as one folder (docs/testing.md, "When a test fails").
#pragma once

#include "audit.hpp"
#include "error.hpp"

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace deploy {

/// One journal entry (journalctl -o json), times in seconds since the epoch.
struct JournalEntry {
  double time = 0;
  std::string ident; ///< SYSLOG_IDENTIFIER, else the command
  long pid = 0;
  int priority = 6;
  std::string unit;       ///< the unit it is about (UNIT=, else _SYSTEMD_UNIT=)
  std::string message_id; ///< systemd's MESSAGE_ID, when it set one
  std::string message;
};

/// One node's part (remote/collect.sh).
struct NodeEvidence {
  std::string name;
  std::string group;
  std::vector<JournalEntry> journal;
  bool journal_truncated = false; ///< the byte cap cut it
  std::string journal_error;      ///< journalctl's complaint, when it printed one
  std::string current;            ///< the release id `current` points to, "-" for none
  std::string status;             ///< systemctl status of the services' units
  std::string kernel;
  std::string cores;
  std::string failure; ///< why nothing could be read ("" when collected)
};

/// A fault of ours on a node, from the lines fault.sh and heal.sh leave in its journal.
struct FaultSpan {
  std::string node;
  std::string id;
  std::string kind;
  std::string detail; ///< what it hit (addresses, units)
  double start = 0;
  std::optional<double> healed; ///< none: still on at the window's end
};

/// What a service did, from systemd's lines about its unit.
struct ServiceEvent {
  double time = 0;
  std::string node;
  std::string unit;
  std::string what; ///< started, stopped, crashed, failed, restarting, core dump, became leader,
                    ///< member <name> joined|left (the group's change; `unit` is the service)
  std::string line; ///< the journal line it comes from
};

/// One operation of the test's client (docs/testing.md, "A test's history").
struct ClientOperation {
  std::string process; ///< who did it (a client or node name)
  std::string op;
  double start = 0;
  double end = 0;
  std::string result; ///< ok, fail, unknown
  std::string line;   ///< the line as written
};

struct Evidence {
  std::string cluster;
  std::string test;   ///< empty: collected by hand
  std::string result; ///< how the test ended: "failed (exit 1)", "timed out after 20 s", ...
  double since = 0;
  double until = 0;
  std::vector<NodeEvidence> nodes;
  std::vector<std::string> left_out; ///< nodes not collected, a large cluster being sampled
  std::vector<FaultSpan> faults;
  std::vector<ServiceEvent> events;
  std::vector<ClientOperation> history;
  std::vector<RunRecord> runs;
  std::vector<std::string> run_steps; ///< each run's steps (<output>/runs/<run>.jsonl), as `runs`
  std::string test_output; ///< the test's own output
};

/// Splits collect.sh's output into `node` (whose name and group are set).
void parse_node_evidence(std::string_view text, std::size_t max_journal_bytes, NodeEvidence& node);

/// The faults and service events in the nodes' journals (sets `faults` and `events`).
void find_faults_and_events(Evidence& evidence);

/// Reads a JSON-lines history (bad lines are skipped and counted in `skipped`).
std::vector<ClientOperation> read_history(const std::filesystem::path& file, int& skipped);

/// Writes the folder: summary.txt, faults.jsonl, runs.jsonl (and runs/<run>.jsonl, each run's
/// steps), history.jsonl, test-output.txt and
/// nodes/<node>/{journal.txt,status.txt,current,kernel.txt,cores.txt}; every file readable by
/// this user alone. Returns the files that matter most, summary first. (timeline.html comes
/// from timeline.hpp, written beside them by collect.)
Result<std::vector<std::filesystem::path>> write_evidence(const Evidence& evidence, const std::filesystem::path& dir);

/// Writes `text` to `path` (truncating); false when it could not.
bool write_file(const std::filesystem::path& path, const std::string& text);

/// The summary.txt text.
std::string evidence_summary(const Evidence& evidence);

/// "2026-12-03T20:01:02.123Z" for a time in seconds since the epoch.
std::string iso_time(double seconds);

} // namespace deploy
