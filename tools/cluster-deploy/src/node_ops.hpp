// Everything done on a node, as small POSIX sh scripts run as root (directly when
// the login user is root, else through `sudo -n`). Every argument is quoted.
#pragma once

#include "changes.hpp"
#include "error.hpp"
#include "remote_scripts.hpp"
#include "ssh_keygen.hpp"
#include "transport.hpp"

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace deploy {

/// The command line that runs `script` as root with `args` as $1, $2, ... and its
/// file name as $0 (what the shell names in its errors), its text sent along: for what must
/// not install anything on a node (evidence, logs) and for resumed uploads.
std::string root_command(const remote::Script& script, const std::vector<std::string>& args);

/// The node scripts are installed on a node once (root's, in /run: gone at reboot, installed
/// again on demand) into a folder named by their content: scripts_id(), a hash of every one.
/// A call then names the script instead of sending its text.
std::string scripts_id();
std::string installed_scripts_dir();
/// The command line that runs the installed `script` as root, as root_command would run it;
/// runs nothing and says so on stderr when the node lacks this helper's scripts. With a
/// `unit`, as that transient systemd unit (remote/detach.sh), which finishes even when the
/// connection is lost.
std::string installed_command(const remote::Script& script, const std::vector<std::string>& args,
                              const std::string& unit = {});

/// Parses remote/state.sh output: lines "current ID", "release ID",
/// "file SHA  PATH", "unit SHA NAME", "started SERVICE DIGEST", "lock RUN".
RemoteState parse_remote_state(std::string_view text);

/// A fault that is active on a node (remote/list-faults.sh).
struct ActiveFault {
  std::string id;
  std::string kind;               ///< partition, loss, slow, kill-keep-down, stop, pause
  long seconds_left = 0;          ///< until its timer heals it
  std::vector<std::string> units; ///< the units it stopped or froze (none for a partition)
};

/// A fault of the node's links (partition, loss, slow): it touches every unit of the node,
/// and its record names the addresses of the nodes on the other end.
inline bool is_link_fault(const std::string& kind)
{
  return kind == "partition" || kind == "loss" || kind == "slow";
}

/// A release already on a node that a rollback switches to (remote/releases.sh).
struct RollbackTarget {
  std::string id;                           ///< empty: there is none
  std::string why_none;                     ///< why there is none
  std::string run;                          ///< the command run that made `current` current ("" if unknown)
  std::map<std::string, std::string> files; ///< its manifest: path -> sha256
};

/// This command run's id ("r" + 15-digit milliseconds), written with every release switch.
std::string run_id();

/// A batch of scripts (NodeOps::run_batch) is one shell text: the run id, k_batch_prologue
/// (which also notes when the batch began, $cd_began),
/// then each step's line "( cd_step <installed script> <cluster> <args>... )" followed by
/// k_batch_step_end, which prints "<k_batch_marker> <exit status>" on a line of its own. A
/// step is a subshell of the batch's sh that sources the installed script: no process starts
/// but what the script itself starts. Only the first step renews the run's lock lease.
inline constexpr std::string_view k_batch_prologue =
    "read -r cd_began _ </proc/uptime\n" // when the batch began, by the node's clock (record-started.sh)
    "cd_step() { [ -O \"$1\" ] || { echo 'cluster-deploy: node scripts missing' >&2; exit 199; }; "
    "cd_script=$1; shift; . \"$cd_script\"; }\n";
inline constexpr std::string_view k_batch_marker = "@@cluster-deploy-step";
inline constexpr std::string_view k_batch_step_end =
    "\ncd_status=$?; cd_lease_renewed=1; echo; echo @@cluster-deploy-step \"$cd_status\"\n";

/// Parses remote/releases.sh output.
RollbackTarget parse_rollback_target(std::string_view text);

/// Parses remote/list-faults.sh output.
std::vector<ActiveFault> parse_active_faults(std::string_view text);

/// One unit's state as systemd reports it.
struct UnitState {
  std::string active; ///< ActiveState: active, inactive, failed, activating, ...
  std::string sub;    ///< SubState: running, dead, auto-restart, ...
  std::string result; ///< Result: success, oom-kill, exit-code, signal, ... (of the last run)
  /// systemd's "Failed with result" entries since the unit was installed or last started
  /// by a deploy (oldest first): oom-kill, exit-code, ...
  std::vector<std::string> failures;
  long main_pid = 0;
  long restarts = 0; ///< NRestarts
  long uptime_seconds = -1;
  long uptime_ms = -1; ///< the same in milliseconds (-1: not active, or not said)
  bool loaded = false;

  bool running() const { return active == "active" && sub == "running"; }
};

/// What `status` shows of a node, read in one round trip (NodeOps::snapshot). A part that
/// could not be read holds the reason.
struct NodeSnapshot {
  Result<std::string> release = std::string();   ///< the id `current` points to; empty: none
  Result<std::vector<std::string>> drift = std::vector<std::string>();
  Result<std::vector<ActiveFault>> faults = std::vector<ActiveFault>();
  std::vector<std::pair<std::string, Result<UnitState>>> units; ///< per service asked for
};

/// What a deploy reads of a node before it decides anything (NodeOps::read_node).
struct NodeReading {
  RemoteState deployed;
  std::map<std::string, UnitState> units; ///< per service asked for whose state could be read
};

/// Another node of a deploy's fan-out, as this node reaches it (NodeOps::pass_on, NodeOps::take).
struct RelayPeer {
  std::string login; ///< <cluster>-relay@<address>
  int port = 22;
  std::string known_hosts; ///< its host keys, as known_hosts lines
};

/// What a node said when it joined a deploy's fan-out (NodeOps::open_relay).
struct RelayOpened {
  std::vector<std::string> host_keys; ///< "<type> <base64>", for the others' known_hosts
  bool can_pass_on = true;            ///< false: it has no ssh client, so it only receives
};

/// Another run that holds a node (remote/lock.sh's answer).
struct LockHolder {
  std::string description; ///< "<who> since <time> <seconds left>"
  std::string run;         ///< its run id
  std::string controller;  ///< "<boot id> <pid> <start time>" of its controller, or empty
};

/// Operations on one node, over its Transport.
class NodeOps {
public:
  NodeOps(Transport& transport, std::string node, NodeLayout layout)
      : m_transport(transport), m_node(std::move(node)), m_layout(std::move(layout))
  {
  }

  /// The deployed state and the units of `services`, in one round trip: a service a deploy
  /// leaves as it was and that was running then is not asked again.
  Result<NodeReading> read_node(const std::vector<std::string>& services);
  /// Makes the next lock() also read the node (as read_node(services)) in its round trip;
  /// the next read_node() of those services answers from that reading. `asks` (a name such as
  /// "HEALTH worker" -> a command of the plan, expanded: a probe, a group's MEMBERS query) run
  /// in that round trip too, as the service user, each bounded to 3 s (a slower one is asked
  /// again later, as a failing one): answer_read_ahead() gives what each did.
  void read_with_lock(std::vector<std::string> services, std::map<std::string, std::string> asks = {});
  /// Makes the next lock() also ask preflight.sh, in its round trip, whether the node could
  /// take `release` whole (every file sent, every unit installed: what a first deploy asks).
  /// A node that passed needs no preflight() round trip for that release: any change of it
  /// asks less (fewer bytes, programs and units). One that failed, or runs the release
  /// already (the script says "current" and checks nothing), is asked by preflight() as
  /// before. For a node the controller has no note of (deploy.cpp, read_first.hpp), which
  /// likely lacks this helper's node scripts too: they ride first (run_batch's install_first).
  void preflight_with_lock(const NodeRelease& release);
  /// What the command asked as `name` did in the round trip that read the node ahead (the
  /// lock's, read_ahead()'s or snapshot()'s), once: asked again, or for a name not asked,
  /// nothing. The caller uses it only while it still describes the node (before the run
  /// changes what it asked about).
  std::optional<ExecResult> answer_read_ahead(const std::string& name);
  /// Reads the node and asks what the next lock() would (read_with_lock()), without taking
  /// the lock: a deploy that finds nothing to change anywhere takes none (read_first.hpp).
  /// read_node() and answer_read_ahead() then answer from it; a lock() after it reads again.
  Result<void> read_ahead();
  /// What read_ahead() read (null: nothing, or read_node() took it), and whether every
  /// command it asked exited 0. Neither uses anything up.
  const NodeReading* reading_ahead() const { return m_reading ? &*m_reading : nullptr; }
  bool asks_passed() const;
  const ExecResult* answer_ahead(const std::string& name) const;
  /// From now on every script that would change the node fails instead of running: this run
  /// holds no lock on it (read_first.hpp). Reading scripts still run.
  void forbid_changes() { m_changes_forbidden = true; }
  /// Creates the staging folder of `release` and puts the reused files in it.
  /// Returns the paths whose content on the node was not what its manifest says:
  /// they must be uploaded too. Notes what interrupted uploads left on the node.
  Result<std::vector<std::string>> prepare_staging(const NodeRelease& release, const ChangeSet& changes);
  /// Sends `file` into staging; the node keeps it only if its hash is right. An upload of
  /// the same content that an earlier run left unfinished is resumed: only the rest is sent
  /// (and the whole file if the node's part turns out to be damaged).
  Result<void> upload(const NodeRelease& release, const ReleaseFile& file);
  /// Sends `files` into staging and seals `release` (seal()) in one round trip: each file
  /// streamed from its local copy after the other (one an earlier run left unfinished: only
  /// the rest), the manifest last. Returns the files whose part on the node turned out not to
  /// be their start: they must go again whole (upload()), then the seal.
  Result<std::vector<const ReleaseFile*>> send_and_seal(const NodeRelease& release,
                                                        const std::vector<const ReleaseFile*>& files);
  /// Fan-out (fan_out.hpp): lets other nodes pass files to this one, and this one to them,
  /// with the deploy's `key` (remote/relay-open.sh).
  Result<RelayOpened> open_relay(const KeyPair& key);
  /// Takes `files` of `release` into staging as a stream, one after the other
  /// (remote/relay-take.sh): from the controller when `from` is null (each streamed from its
  /// local copy, all in one round trip), else from that node (named
  /// `from_name`), which is taking them itself, in this order, over one connection; nodes below
  /// this one read each while it arrives. Each is kept only if its hash is right.
  Result<void> take(const NodeRelease& release, const std::vector<const ReleaseFile*>& files, const RelayPeer* from,
                    const std::string& from_name);
  /// Passes `file`, staged here for `release`, on to `peer` (named `peer_name` in messages).
  Result<void> pass_on(const NodeRelease& release, const ReleaseFile& file, const RelayPeer& peer,
                       const std::string& peer_name);
  /// Takes `files` of `release`, passed on by other nodes, into staging once each one's hash
  /// is checked; returns the paths that did not arrive or arrived damaged.
  Result<std::vector<std::string>> adopt(const NodeRelease& release, const std::vector<const ReleaseFile*>& files);
  /// Removes the deploy's key and the relay inbox (also when nothing was opened).
  Result<void> close_relay();
  /// Writes the manifest, checks that every file is staged (each one's hash was checked as
  /// it was staged: prepare, upload, adopt), and moves the release into place.
  Result<void> seal(const NodeRelease& release);
  /// prepare_staging(), upload() of each file `changes` sends (whole) and seal(), in one round trip: for
  /// a change of a few small files (a config), where each round trip costs more than the bytes.
  /// Returns what prepare_staging() returns; when that is not empty, the release is not sealed:
  /// those files must be uploaded and the release sealed as usual.
  Result<std::vector<std::string>> stage_in_one_trip(const NodeRelease& release, const ChangeSet& changes);
  /// Checks that the node can take `release` (the bytes `changes` sends, more in /opt; the
  /// programs it sends) before any node is changed: fails with every problem found, in one line.
  Result<void> preflight(const NodeRelease& release, const ChangeSet& changes);
  /// The node's switch, as one step that finishes even if the connection is lost: stops and
  /// removes units no longer in the plan, installs changed units, switches `current`
  /// atomically, restarts the services `restart` names (queued: health checks wait), prunes
  /// old releases. `reason` (deploy, back after a failed batch, rollback) goes into deploy.log.
  Result<void> activate(const NodeRelease& release, const ChangeSet& changes, const std::string& reason = "deploy",
                        const std::vector<std::string>& restart = {});

  /// Takes the node for this command run (remote/lock.sh) with a lease that every script
  /// of the run renews. `controller` names this process ("<boot id> <pid> <start time>");
  /// a lock of run `dead_run` (one the caller found dead) counts as stale. Returns the
  /// holder when another run holds it, nothing when it is ours.
  Result<std::optional<LockHolder>> lock(const std::string& who, const std::string& controller, Seconds lease,
                                         const std::string& dead_run = "");
  /// Renews this run's lock (remote/renew-lock.sh); fails when the node is not this
  /// run's any more.
  Result<void> renew_lock();
  /// Gives the node back if this run holds it.
  Result<void> unlock();
  /// After lock(): the stale lock of a dead run it took over ("run <id> (<who> since
  /// <time>): <why>"), or empty.
  const std::string& taken_over() const { return m_taken_over; }

  /// Notes that `service` runs healthy from files with this digest (see ChangeSet::restart):
  /// no round trip when a health look of this run recorded just that (unit_state_and_probe).
  Result<void> record_started(const std::string& service, const std::string& digest);
  /// start, restart (both without waiting) or stop.
  Result<void> systemctl(const std::string& verb, const std::string& service);
  /// Runs `shell_command` as the services' user (HEALTH exec probes).
  Result<ExecResult> run_as_service_user(const std::string& shell_command, Seconds timeout);
  /// The unit's state (without UnitState::failures: snapshot() reads those).
  Result<UnitState> unit_state(const std::string& service);
  /// unit_state() and, in the same round trip, `probe` run as the services' user (a HEALTH
  /// exec probe, 30 s at most): what it answered. With `record`, the same round trip also
  /// records the service as started (record_started()) if the probe passed and the unit runs,
  /// as `record->main_pid` unless that is 0: a look that finds the service healthy needs no
  /// round trip of its own to record it (record_started() then skips it). With `await`, the
  /// node first runs the probe until it passes, for that long at most (remote/as-service-user.sh).
  struct RecordIf {
    std::string digest;
    long main_pid = 0;
    /// When > 0: only when the unit has been active at least this long and at most `since_asked`.
    std::chrono::milliseconds active_for{0};
    std::chrono::milliseconds since_asked{0};
  };
  struct Look {
    UnitState state;
    ExecResult probe;
  };
  Result<Look> unit_state_and_probe(const std::string& service, const std::string& probe,
                                    const std::optional<RecordIf>& record = std::nullopt,
                                    std::chrono::milliseconds await = std::chrono::milliseconds{0});
  Result<std::string> journal_tail(const std::string& service, int lines);

  /// Stops and removes units and releases; data only with `purge_data`.
  Result<void> clean(const std::vector<std::string>& services, bool purge_data);
  /// Before the node joins `service`'s group: moves data an earlier membership left aside
  /// (set-aside-data.sh); the path it was moved to, or empty when there was none.
  Result<std::string> set_aside_data(const std::string& service);
  /// Leaves "member <service> <member> joined|left" in the node's journal (member-event.sh),
  /// for the evidence of a failed test.
  Result<void> note_member(const std::string& service, const std::string& member, const std::string& what);

  /// Applies a fault (remote/fault.sh) that heals itself after `seconds`; `args`
  /// are addresses (partition; loss after its percent) or unit names (the other kinds).
  Result<void> apply_fault(const std::string& id, int seconds, const std::string& kind,
                           const std::vector<std::string>& args);
  /// Undoes the faults of this cluster on the node (remote/heal.sh): all of them, or
  /// those whose id or kind is `only`. Returns what was undone, a line each.
  Result<std::vector<std::string>> heal_faults(const std::string& only = {});
  /// The release `current` points to (empty: none), the files and units that differ from
  /// its manifest (drift), the active faults, and the units of `services` with their
  /// failures since deploy: what `status` shows, in one round trip.
  /// `asks` (as read_with_lock's: a group's MEMBERS query) run in the same round trip, as the
  /// service user, each bounded to 3 s; answer_read_ahead() gives what each did.
  Result<NodeSnapshot> snapshot(const std::vector<std::string>& services,
                                const std::map<std::string, std::string>& asks = {});
  /// The release a rollback goes to: `wanted`, or the newest one before `current`.
  Result<RollbackTarget> rollback_target(const std::string& wanted);

  const std::string& node() const { return m_node; }
  Transport& transport() { return m_transport; }

private:
  /// One script of a batch, with its arguments (after the cluster).
  struct BatchStep {
    const remote::Script& script;
    std::vector<std::string> args;
    std::optional<std::size_t> input{}; ///< reads this many bytes of the batch's input, in order
  };
  /// Runs `steps` one after the other in one round trip, each as run_script would run it
  /// alone; returns each one's stdout and exit status (stderr: all of them, on the first).
  /// `input` is the steps' inputs one after the other; a step without one reads nothing.
  /// With `install_first`, the batch begins by installing this helper's node scripts where
  /// they are missing (the installer goes first on stdin, before `input`): a node new to
  /// them takes one round trip where exec_installed() would take three. Quietly: a node that
  /// could not install them fails the steps with "node scripts missing", as before, and
  /// exec_installed() installs on its own and says why not.
  Result<std::vector<ExecResult>> run_batch(const std::string& what, const std::vector<BatchStep>& steps,
                                            Seconds timeout, const std::vector<InputPart>& input = {},
                                            bool install_first = false);
  /// read_node()'s scripts, and what they answered (from results[first] on).
  static void add_reading_steps(std::vector<BatchStep>& steps, const std::vector<std::string>& services);
  /// Each of `asks` as a step run as the service user, bounded to 3 s (a slow one is asked again later).
  static void add_ask_steps(std::vector<BatchStep>& steps, const std::map<std::string, std::string>& asks);
  /// Books what each of `asks` did (from results[first] on) for answer_read_ahead().
  void keep_answers(std::vector<ExecResult>& results, std::size_t first,
                    const std::map<std::string, std::string>& asks);
  /// The steps of read_with_lock() after `steps`; keep_read_ahead() keeps their answers
  /// (from results[first] on) for read_node() and answer_read_ahead(); fails when the reading
  /// could not be parsed (the answers are kept all the same).
  void add_steps_read_ahead(std::vector<BatchStep>& steps) const;
  Result<void> keep_read_ahead(std::vector<ExecResult>& results, std::size_t first);
  /// Adds an upload.sh step per file of `files` and its local copy to `input` (from where a part
  /// an interrupted upload left ends, resume_from).
  Result<void> add_upload_steps(std::vector<BatchStep>& steps, std::vector<InputPart>& input,
                                const NodeRelease& release, const std::vector<const ReleaseFile*>& files);
  /// Where an upload of `file` (`bytes` long) starts: the length of the part an interrupted
  /// upload of its content left (prepare_staging), once; else 0.
  std::uint64_t resume_from(const ReleaseFile& file, std::uint64_t bytes);
  /// Fails when `script` would change the node and forbid_changes() was called.
  Result<void> may_run(const remote::Script& script) const;
  Result<NodeReading> parse_reading(const std::vector<ExecResult>& results, std::size_t first,
                                    const std::vector<std::string>& services);
  /// Runs `command` (installed_command, or a batch of them); when the node lacks this
  /// helper's scripts, installs them (one round trip) and runs it again.
  Result<ExecResult> exec_installed(const std::string& command, const std::vector<InputPart>& input, Seconds timeout);
  /// Runs `script` (installed on the node, exec_installed) with the cluster as $1 and `args`
  /// after it. With a `unit`, as that transient unit (detach.sh, installed beside it).
  Result<ExecResult> run_script(const std::string& what, const remote::Script& script, std::vector<std::string> args,
                                std::string_view input = {}, Seconds timeout = Seconds{120},
                                const std::string& unit = {});

  Transport& m_transport;
  std::string m_node;
  NodeLayout m_layout;
  std::optional<std::vector<std::string>> m_read_with_lock; ///< read_with_lock()
  std::optional<NodeReading> m_reading;                      ///< what lock() read for read_node()
  std::map<std::string, std::string> m_asks_with_lock;       ///< read_with_lock()
  std::map<std::string, ExecResult> m_answers_read_ahead;    ///< answer_read_ahead()
  struct PreflightAhead {
    std::string release_id;
    std::string request; ///< preflight.sh's stdin
    std::uint64_t bytes = 0;
    bool passed = false;
  };
  std::optional<PreflightAhead> m_preflight_with_lock; ///< preflight_with_lock()
  std::string m_taken_over;                                  ///< taken_over()
  bool m_changes_forbidden = false;                          ///< forbid_changes()
  std::map<std::string, std::uint64_t> m_partial;            ///< sha256 -> bytes an interrupted upload left
  std::map<std::string, std::string> m_recorded;             ///< service -> digest this run recorded last
};

/// Parses `systemctl show` key=value output.
UnitState parse_unit_state(std::string_view text);

/// Parses lock.sh's answer for a node another run holds: "locked <who> since <time>
/// <seconds left>", then "holder <run> [<controller>]" (absent from older scripts).
LockHolder parse_lock_holder(std::string_view text);

/// lock.sh's "stale <run> dead|lease|connection <who...> since <time>" line, if any, as
/// "run <run> (<who...> since <time>): <why in words>"; else empty.
std::string describe_stale_lock(std::string_view text);

} // namespace deploy
