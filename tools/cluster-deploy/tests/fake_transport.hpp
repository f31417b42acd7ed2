// A Transport that runs nothing: it emulates one node's deployed state well enough
// for the orchestration to be tested, and records every call.
#pragma once

#include "transport.hpp"

#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace deploy::testing {

/// Splits a command line made by shell_join() back into its words.
std::vector<std::string> split_quoted(const std::string& line);

/// What a node has, as the fake keeps it.
struct FakeNode {
  std::string current;                                      ///< release id
  std::map<std::string, std::string> manifests;             ///< release id -> manifest text
  std::map<std::string, std::string> units;                 ///< unit name -> sha256
  std::set<std::string> active;                             ///< running unit names
  std::map<std::string, int> restarts;                      ///< unit -> systemd restart count
  std::map<std::string, std::string> results;               ///< unit -> systemd Result (default success)
  std::map<std::string, std::vector<std::string>> failures; ///< unit -> failure results since deploy
  std::map<std::string, std::string> started;               ///< service -> digest recorded after a healthy start
  std::set<std::string> edited;                             ///< current-release paths edited on the node (drift)
  bool healthy = true;                                      ///< what HTTP probes answer
  std::function<bool()> healthy_if;                         ///< when set: what HTTP probes answer, asked each time
  std::function<void(const std::string&)> on_systemctl;     ///< told "verb unit" of each systemctl call
  std::vector<std::string> uploaded;                        ///< release paths sent
  std::uint64_t uploaded_bytes = 0;
  std::vector<std::uint64_t> uploaded_from;               ///< the byte each upload began at (> 0: resumed)
  std::map<std::string, std::uint64_t> partials;           ///< sha256 -> bytes an interrupted upload left
  bool partials_damaged = false;                          ///< upload.sh finds a resumed file damaged (exit 3)
  std::vector<std::string> journal;                       ///< what journal.sh prints ("<timestamp> <text>" lines)
  std::vector<std::vector<std::string>> journal_requests; ///< journal.sh's arguments, per call
  std::string collect_output;                             ///< what collect.sh prints
  std::vector<std::vector<std::string>> collect_requests; ///< collect.sh's arguments, per call
  std::string locked_by;                                  ///< the run holding the node's lock (lock.sh), or empty
  std::string lock_controller;                            ///< the holding run's controller (lock.sh's <controller>)
  std::vector<std::string> lock_holders;                  ///< who took the lock, per lock.sh
  bool cleaned = false;                                   ///< clean.sh ran
  bool data_purged = false;                               ///< clean.sh ran with purge
  std::vector<std::string> member_events;                 ///< "<member> joined|left" per member-event.sh
  std::vector<std::string> set_aside;                     ///< services whose data set-aside-data.sh moved (after a clean)
  std::vector<std::string> commands;                      ///< every script run, by name ("state.sh", ...)
  int activate_fails = 0;                                 ///< activate.sh exits 1 after doing its work, this many times
  std::vector<std::string> in_units;                      ///< "<script> <unit>" per script run as a transient unit
  int round_trips = 0;                                    ///< execs (a batch of scripts is one)
  std::vector<std::string> batches;                       ///< each batch's scripts (run_batch), joined by spaces
  int file_trips = 0;                                     ///< of those, one file sent alone (upload_file)
  bool scripts_installed = true;                          ///< false: the loader exits 199 until the installer runs
  std::vector<std::string> installs;                      ///< what the installer read on stdin, per install
  std::vector<std::string> service_user_commands;         ///< what as-service-user.sh ran (probes, QUORUM, LEADER)
  std::vector<std::string> awaits;                        ///< as-service-user.sh's <milliseconds>, per run with one
  long active_ms = -1;                                    ///< >= 0: how long an active unit has been (UptimeMs)
  std::vector<std::string> systemctl;                     ///< "restart example-etcd.service", ...
  std::vector<std::string> faults;                        ///< "partition 10.0.0.2", "pause demo-db.service", ...
  int fault_exit = 0;                                     ///< what fault.sh exits with
  std::string preflight_problem;                          ///< non-empty: preflight.sh fails (exit 6) saying it
  std::vector<std::string> preflight_requests;            ///< what preflight.sh read, per call
  bool relay_open = false;                                ///< the fan-out's key is installed (relay-open.sh, not yet relay-close.sh)
  std::string relay_refused;                              ///< non-empty: relay-open.sh fails (exit 4) saying it
  std::string relay_private_key;                          ///< what relay-open.sh read on stdin
  std::vector<std::string> relay_open_args;               ///< its arguments
  std::vector<std::string> passed_on;                     ///< "<path> <user@address> <port>" per relay-send.sh
  bool pass_on_fails = false;                             ///< relay-send.sh exits 255 (ssh could not reach the peer)
  std::vector<std::string> taken;                         ///< "<path> <user@address> <port>" per relay-take.sh from a node
  bool take_fails = false;                                ///< relay-take.sh from a node exits 3 (the stream broke)
  std::vector<std::string> adopted;                       ///< release paths taken in by relay-adopt.sh
  std::set<std::string> arrives_damaged;                  ///< paths relay-adopt.sh finds damaged (resend)
  std::string leader_answer;                              ///< what a LEADER query prints on this node
  /// Commands run as the service user (HEALTH exec, QUORUM, LEADER) that contain the key
  /// exit with the value; all others exit 0.
  std::map<std::string, int> exec_exits;
  /// When set: answers every command run as the service user instead (its output into `out`,
  /// returns the exit status): a group's hooks (MEMBERS, JOIN, LEAVE, ...) against a model.
  std::function<int(const std::string& command, std::string& out)> service_user_answer;
  std::string name;                          ///< for `order`
  std::vector<std::string>* order = nullptr; ///< shared by nodes: "node verb unit" per systemctl start/restart/stop
};

class FakeTransport : public Transport {
public:
  explicit FakeTransport(FakeNode& node) : m_node(node) {}

  Result<ExecResult> exec(const std::string& command, std::string_view stdin_data, Seconds timeout) override;
  /// A batch (NodeOps::run_batch) gets its parts read into memory, as exec() takes them; a
  /// single file to one script is an upload (upload.sh, relay-take.sh).
  Result<ExecResult> exec_with_input(const std::string& command, const std::vector<InputPart>& input,
                                     Seconds timeout) override;
  Result<int> exec_streaming(const std::string& command, const ChunkSink& sink, Seconds timeout) override;
  Result<std::string> tcp_request(int port, std::string_view request, Seconds timeout) override;

private:
  ExecResult handle(const std::vector<std::string>& args, const std::string& script, std::string_view input);
  /// One file streamed to upload.sh or relay-take.sh in a round trip of its own.
  Result<ExecResult> upload_file(const std::string& command, const std::filesystem::path& local_file,
                                 std::uint64_t from);
  /// systemctl <verb> <unit> on the node (systemctl.sh, activate.sh --restart).
  void systemctl_call(const std::string& verb, const std::string& unit);
  FakeNode& m_node;
  int m_step_before = 0; ///< in a batch, the exit status of the step before ($cd_status)
};

} // namespace deploy::testing
