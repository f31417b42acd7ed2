#include "cli.hpp"

#include "agent.hpp"
#include "agent_client.hpp"
#include "ansible_inventory.hpp"
#include "audit.hpp"
#include "cluster_lock.hpp"
#include "collect.hpp"
#include "console.hpp"
#include "deploy.hpp"
#include "evidence.hpp"
#include "fault.hpp"
#include "fault_schedule.hpp"
#include "interrupt.hpp"
#include "inventory_source.hpp"
#include "logs.hpp"
#include "nodes_file.hpp"
#include "quote.hpp"
#include "read_first.hpp"
#include "report.hpp"
#include "run_test.hpp"
#include "status.hpp"

#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <optional>
#include <random>

namespace deploy {
namespace {

struct Options {
  std::string plan;
  Selection selection;
  int parallel = 0;
  std::string color = "auto";
  int verbose = 0;
  bool dry_run = false;
  std::string fan_out; ///< empty: the plan's
  bool json = false;
  int health_timeout = 120;
  int lock_wait = 0;
  LogOptions logs;
  bool purge_data = false;
  std::string junit;
  FaultOptions fault;
  ScheduleOptions schedule; ///< fault schedule: --kinds, --dry-run (its seed and length are fault's)
  std::string interval;     ///< fault schedule --interval A-B
  std::string rollback_to;
  std::string export_format;
  std::string inventory; ///< inventory --inventory DIR: read it without a plan
  int warm = 0;          ///< --warm SECONDS: sessions through the agent, kept that long unused
  struct {
    std::string since = "-10m";
    std::string until;
    std::string out;
    bool pending = false;
  } collect;
  RunTestOptions test;
  int runs_last = 10;
  std::string runs_run; ///< runs --run ID: that run's steps
  std::map<std::string, NodeRelease> releases; ///< rendered before connecting (deploy)
};

/// A subcommand: its name, help, and what it runs once the plan is loaded.
struct Command {
  const char* name;
  const char* help;
  std::function<bool(Cluster&, const std::vector<const Service*>&, const Options&)> run;
  bool writes = false; ///< renders and deploys: render before connecting
  /// Set for commands that need no connection (they run instead of `run`).
  std::function<bool(const Plan&, const std::vector<const Node*>&, const Options&)> offline = {};
  bool all_nodes = false; ///< connects to every node; the selection says what to act on
};

Color parse_color(const std::string& text)
{
  return text == "always" ? Color::always : text == "never" ? Color::never : Color::automatic;
}

void setup_logging(const Options& options)
{
  auto logger = spdlog::stderr_color_mt("cluster-deploy", options.color == "never"    ? spdlog::color_mode::never
                                                          : options.color == "always" ? spdlog::color_mode::always
                                                                                      : spdlog::color_mode::automatic);
  logger->set_pattern("%^cluster-deploy: %l:%$ %v");
  logger->set_level(options.verbose >= 2   ? spdlog::level::trace
                    : options.verbose == 1 ? spdlog::level::debug
                                           : spdlog::level::warn);
  spdlog::set_default_logger(logger);
}

bool run_fault_or_schedule(Cluster& cluster, const Options& options)
{
  if (options.fault.kind == "schedule") {
    return run_schedule(cluster, options.selection, options.schedule);
  }
  return run_fault(cluster, options.selection, options.fault);
}

const std::vector<Command>& commands()
{
  static const std::vector<Command> table = {
      {"deploy", "push binaries, configs and units; restart what changed; verify health",
       [](Cluster& c, const auto& s, const Options& o) {
         DeployOptions options{o.dry_run, HealthOptions{Seconds{o.health_timeout}, Seconds{2}},
                               *parse_fan_out_mode(o.fan_out.empty() ? c.plan().ssh.fan_out : o.fan_out)};
         return run_deploy(c, s, o.releases, options);
       },
       true},
      {"up", "start the deployed services in order and verify health",
       [](Cluster& c, const auto& s, const Options& o) {
         return run_up(c, s, HealthOptions{Seconds{o.health_timeout}, Seconds{2}});
       }},
      {"rollback", "return the nodes to their previous release (or --to <release>); nothing is sent",
       [](Cluster& c, const auto& s, const Options& o) {
         return run_rollback(c, s, o.rollback_to, HealthOptions{Seconds{o.health_timeout}, Seconds{2}});
       }},
      {"down", "stop the deployed services in reverse order",
       [](Cluster& c, const auto& s, const Options&) { return run_down(c, s); }},
      {"status", "show state, pid, uptime, restarts, release and drift of every service",
       [](Cluster& c, const auto& s, const Options&) { return run_status(c, s); }},
      {"logs", "show the services' journal from every node, merged",
       [](Cluster& c, const auto& s, const Options& o) { return run_logs(c, s, o.logs); }},
      {"clean", "stop and remove services, units and releases (data kept unless --purge-data)",
       [](Cluster& c, const auto&, const Options& o) { return run_clean(c, o.purge_data); }},
      {"fault",
       "inject a fault (partition, loss, slow, clock, kill, pause, resume, stop) that heals itself after --for "
       "seconds, or a schedule of them",
       [](Cluster& c, const auto&, const Options& o) { return run_fault_or_schedule(c, o); },
       false,
       {},
       true},
      {"heal", "undo every fault of ours on the selected nodes",
       [](Cluster& c, const auto&, const Options&) { return run_heal(c); }},
      {"leader", "print the node that leads the service's group (its LEADER query)",
       [](Cluster& c, const auto& s, const Options&) { return run_leader(c, s); }},
      {"runs",
       "show the last runs that changed nodes from this build tree, or (--run ID) one run's steps per node; "
       "connects to nothing",
       nullptr,
       false,
       [](const Plan& plan, const std::vector<const Node*>&, const Options& o) {
         print_out(runs_report(plan.output_dir, o.runs_last, o.runs_run));
         return true;
       }},
      {"inventory",
       "print the inventory in another tool's format (--plan P --export ansible), or check one and list its nodes "
       "(--inventory DIR); connects to nothing",
       nullptr,
       false,
       [](const Plan& plan, const std::vector<const Node*>& nodes, const Options&) {
         print_out(ansible_ini(nodes, plan.cluster, plan.ssh.config.string(), plan.inventory_dir.string()));
         return true;
       }},
  };
  return table;
}

void add_selection_options(CLI::App& app, Options& options)
{
  app.add_option("--plan", options.plan, "plan file written by CMake (<build>/cluster-deploy/plan.xml)")->required();
  app.add_option("--group", options.selection.groups, "act on these groups only")->delimiter(',');
  app.add_option("--node", options.selection.nodes, "act on these nodes only")->delimiter(',');
  app.add_option("--service", options.selection.services, "act on these services only")->delimiter(',');
  app.add_option("--parallel", options.parallel, "nodes handled at once (default: the plan's, 64)")
      ->check(CLI::Range(1, 1024));
  app.add_option("--color", options.color, "auto, always or never (NO_COLOR is honoured)")
      ->check(CLI::IsMember({"auto", "always", "never"}));
  app.add_flag("-v,--verbose", options.verbose, "more detail on stderr (twice: libssh protocol)");
  app.add_option("--warm", options.warm,
                 "keep the SSH sessions to the nodes open for later runs, in an agent of this user that exits after "
                 "SECONDS unused (default 0: connect for this run only)")
      ->check(CLI::Range(0, 86400));
}

/// fault's kind, targets and options.
void add_fault_options(CLI::App& sub, Options& options)
{
  sub.add_option("kind", options.fault.kind,
                 "partition, loss, slow, clock, disk-full, corrupt, kill, pause, resume or stop; or schedule")
      ->required()
      ->check(CLI::IsMember({"partition", "loss", "slow", "clock", "disk-full", "corrupt", "kill", "pause", "resume",
                             "stop", "schedule"}));
  sub.add_option("targets", options.fault.targets,
                 "node or group names, or one, minority, majority, leader (of --service's group)");
  sub.add_option("--for", options.fault.seconds, "seconds until the fault heals itself on the node (default 600)")
      ->check(CLI::Range(1, 86400));
  sub.add_option("--from", options.fault.from, "partition, loss, slow: only the links with these nodes or groups")
      ->delimiter(',');
  sub.add_flag("--one-way", options.fault.one_way,
               "partition, loss, slow: only the targets drop what comes from the others (they still send)");
  sub.add_option("--percent", options.fault.percent, "loss: the share of packets dropped (default 20)")
      ->check(CLI::Range(1, 100));
  sub.add_option("--rate", options.fault.rate, "slow: each link's rate each way, like 500kbit or 8mbit (default 1mbit)");
  sub.add_option("--offset", options.fault.offset,
                 "clock: +S or -S seconds on the services' clock, through libfaketime (default +300)");
  sub.add_option("--file", options.fault.file, "corrupt: the file, relative to the service's data folder");
  sub.add_option("--mode", options.fault.mode, "corrupt: bitflip (one bit) or truncate (the last half; default bitflip)")
      ->check(CLI::IsMember({"bitflip", "truncate"}));
  sub.add_option("--shape", options.fault.shape, "partition: split the targets as halves, majorities-ring or bridge")
      ->check(CLI::IsMember({"halves", "majorities-ring", "bridge"}));
  sub.add_option("--seed", options.fault.seed, "the random choices (one, minority, majority, --shape): the same seed "
                                               "makes the same choices");
  sub.add_flag("--keep-down", options.fault.keep_down, "kill: keep the killed services stopped for --for seconds");
  sub.add_option("--kinds", options.schedule.kinds, "schedule: the kinds to draw from (default partition,kill,pause)")
      ->delimiter(',')
      ->check(CLI::IsMember({"partition", "loss", "slow", "kill", "pause", "stop"}));
  sub.add_option("--interval", options.interval, "schedule: each fault lasts A to B seconds (default 5-15)");
  sub.add_flag("--dry-run", options.schedule.dry_run, "schedule: print the sequence (JSON lines), apply nothing");
}

void add_command_options(const std::string& name, CLI::App& sub, Options& options)
{
  if (name == "deploy") {
    sub.add_flag("--dry-run", options.dry_run, "print what would change on each node; change nothing");
    sub.add_option("--fan-out", options.fan_out,
                   "auto, on or off: nodes pass programs on to each other (default: the plan's, auto)")
        ->check(CLI::IsMember({"auto", "on", "off"}));
  }
  if (name == "deploy" || name == "up" || name == "rollback" || name == "down" || name == "clean") {
    sub.add_option("--lock-wait", options.lock_wait,
                   "wait up to SECONDS for nodes another run holds (default 0: fail at once, changing nothing)")
        ->check(CLI::Range(0, 86400));
  }
  if (name == "rollback") {
    sub.add_option("--to", options.rollback_to, "the release id to go back to (default: the one before current)")
        ->check([](const std::string& id) { return is_safe_name(id) ? std::string() : "not a release id: " + id; });
  }
  if (name == "deploy" || name == "up" || name == "rollback") {
    sub.add_option("--health-timeout", options.health_timeout, "seconds to wait for health per service")
        ->check(CLI::Range(1, 3600));
  }
  if (name == "deploy" || name == "up" || name == "rollback" || name == "down" || name == "clean") {
    sub.add_option("--junit", options.junit, "also write the summary as a JUnit XML report to this file");
  }
  if (name == "inventory") {
    auto* plan = sub.get_option("--plan")->required(false);
    auto* format = sub.add_option("--export", options.export_format, "the format: ansible (an Ansible INI inventory)")
                       ->check(CLI::IsMember({"ansible"}));
    plan->needs(format);
    format->needs(plan);
    sub.add_option("--inventory", options.inventory,
                   "read this inventory instead of a plan: print 'name address group file:line' per node")
        ->excludes(plan);
  }
  if (name == "runs") {
    sub.add_option("--last", options.runs_last, "how many runs (default 10)")->check(CLI::Range(1, 100000));
    sub.add_option("--run", options.runs_run, "the run id whose steps to show")
        ->check([](const std::string& id) { return is_safe_name(id) ? std::string() : "not a run id: " + id; });
  }
  if (name != "logs" && name != "inventory" && name != "runs") {
    sub.add_flag("--json", options.json, "print the result (status, dry run or summary) as JSON on stdout");
  }
  if (name == "logs") {
    sub.add_flag("-f,--follow", options.logs.follow, "keep streaming new lines");
    sub.add_option("-n,--lines", options.logs.lines, "lines per node")->check(CLI::Range(0, 1000000));
    sub.add_option("--since", options.logs.since, "as journalctl --since (e.g. '10 min ago')");
  }
  if (name == "fault") {
    add_fault_options(sub, options);
  }
  if (name == "clean") {
    sub.add_flag("--purge-data", options.purge_data, "also delete /var/lib/<cluster> (the services' data)");
  }
}

double now_seconds()
{
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

/// Direct sessions, or with --warm the agent's (started when none runs). Where the agent
/// cannot be used, this run connects directly and says why.
Connector connector(const Options& options)
{
  if (options.warm == 0) {
    return ssh_connector();
  }
  auto socket = ensure_agent(Seconds{options.warm});
  if (!socket) {
    print_note("warning: " + socket.error() + "; connecting without it");
    return ssh_connector();
  }
  return agent_connector(*socket);
}

/// Usage errors that need the plan, before anything is connected.
/// fault schedule: its seed (printed when drawn here), length and interval into options.schedule.
void prepare_schedule(Options& options)
{
  if (!options.fault.targets.empty()) {
    throw Error("fault schedule picks its own targets (one node of --service's group at a time): give no targets");
  }
  if (!options.interval.empty()) {
    parse_interval(options.interval, options.schedule).value_or_throw();
  }
  options.schedule.seconds = options.fault.seconds;
  options.schedule.seed = options.fault.seed.value_or(std::random_device{}());
  if (!options.fault.seed) {
    print_note("fault schedule of seed " + std::to_string(options.schedule.seed) + " (--seed " +
               std::to_string(options.schedule.seed) + " runs the same one again)");
  }
}

void refuse_misuse(const Command& command, const Plan& plan, const Options& options)
{
  std::string name = command.name;
  if (name == "clean" && !options.selection.services.empty()) {
    throw Error("clean removes whole nodes' releases: it takes --group and --node, not --service");
  }
  if (name == "fault" && !plan.faults_allowed) {
    throw Error("faults are not allowed on the inventory " + plan.inventory_dir.string() +
                ": add FAULTS to its cluster_deploy_inventory() call if this cluster may be disturbed");
  }
  const FaultOptions& fault = options.fault;
  if (fault.kind == "corrupt") {
    if (!plan.corrupt_allowed) {
      throw Error("corrupt destroys data and is not allowed on the inventory " + plan.inventory_dir.string() +
                  ": add CORRUPT_FAULTS to its cluster_deploy_inventory() call if that is meant");
    }
    check_corrupt_file(fault.file).value_or_throw();
  } else if (!fault.file.empty()) {
    throw Error("--file goes with corrupt only");
  }
  if (fault.keep_down && fault.kind != "kill") {
    throw Error("--keep-down goes with kill only");
  }
  if ((fault.one_way || !fault.from.empty()) && !is_link_fault(fault.kind)) {
    throw Error("--one-way and --from go with partition, loss and slow only");
  }
  bool scheduled = !options.interval.empty() || options.schedule.dry_run;
  if (scheduled && fault.kind != "schedule") {
    throw Error("--interval and --dry-run go with fault schedule only");
  }
  if (!fault.shape.empty() && (fault.kind != "partition" || fault.one_way || !fault.from.empty())) {
    throw Error("--shape goes with partition only, without --from and --one-way: the shape says who is cut off");
  }
}

/// Takes every node's lock into `lock` for a command that changes nodes; Ctrl-C ends it cleanly.
/// False when some node could not be taken. A deploy that finds nothing to change takes none.
bool take_nodes(Cluster& cluster, const std::string& name, const std::vector<const Service*>& services,
                const Options& options, std::optional<ClusterLock>& lock)
{
  catch_interrupts();
  // What a deploy or rollback reads first comes with the lock: one round trip fewer.
  if (name == "deploy") {
    read_with_lock(cluster, options.releases);
    if (unchanged_without_lock(cluster, services, options.releases)) {
      return true; // nothing to change: no lock to take, none to give back
    }
  }
  for (auto& slot : cluster.slots()) {
    if (slot.ops && name == "rollback") {
      slot.ops->read_with_lock({});
    }
  }
  lock.emplace(cluster, name, Seconds{options.lock_wait});
  return lock->held();
}

/// The end of a command run: the JUnit report, what an interrupt left, the audit line (for a run
/// that changed nodes, `started` >= 0). Returns the exit status.
int finish_run(const Command& command, const Plan& plan, const Options& options, const std::vector<SummaryRow>& rows,
               bool ok, double started)
{
  std::string name = command.name;
  if (!options.junit.empty()) {
    write_junit(options.junit, std::string("cluster-deploy ") + command.name + " " + plan.cluster, rows)
        .value_or_throw(k_exit_node_failure); // nodes were already touched: not a usage error
  }
  int code = ok ? k_exit_ok : k_exit_node_failure;
  if (interrupted()) {
    print_note(name + " stopped by " + interrupt_name() +
               ": the nodes above marked not done keep what they had; run the same command again to finish");
    code = 128 + interrupted();
  }
  if (started >= 0) { // for the evidence of a test that fails meanwhile
    append_run(plan.output_dir / "runs.jsonl", {run_id(), name, started, now_seconds(), code, ""});
  }
  return code;
}

int execute(const Command& command, Options& options)
{
  if (!options.inventory.empty()) { // inventory --inventory DIR: no plan
    print_out(node_lines(read_inventory(options.inventory).value_or_throw()));
    return k_exit_ok;
  }
  if (options.plan.empty()) { // only inventory may go without it, given --inventory
    throw Error("give --plan <build>/cluster-deploy/plan.xml or, to list an inventory's nodes, --inventory DIR");
  }
  Plan plan = load_plan(options.plan).value_or_throw();
  refuse_misuse(command, plan, options);
  if (command.name == std::string("fault") && options.fault.kind == "schedule") {
    prepare_schedule(options);
  }
  std::string name = command.name;
  options.selection.idle_nodes = (name == "deploy" || name == "clean") && options.selection.services.empty();
  auto nodes = select_nodes(plan, options.selection).value_or_throw();
  auto services = select_services(plan, options.selection).value_or_throw();
  if (command.all_nodes) {
    nodes.clear();
    for (const auto& node : plan.inventory.nodes) {
      nodes.push_back(&node);
    }
  }
  if (command.offline) {
    return command.offline(plan, nodes, options) ? k_exit_ok : k_exit_node_failure;
  }
  for (const auto& node : write_nodes_file(plan).value_or_throw()) {
    print_note("warning: " + node +
               " left the inventory; what was deployed there still runs (put it back in a group that runs no "
               "service and deploy: that retires it)");
  }
  if (command.writes) {
    options.releases = render_releases(plan, nodes); // errors stop us before any node is touched
  }
  bool long_running = name == "deploy" || name == "up" || name == "rollback" || name == "down" || name == "clean";
  Output output(parse_color(options.color), options.json ? Format::json : Format::text, long_running);
  Cluster cluster(plan, nodes, output, options.parallel > 0 ? options.parallel : plan.ssh.parallel);
  cluster.connect(connector(options));
  bool changes_nodes = long_running && !options.dry_run;
  if (changes_nodes) { // every node step of this run, for `cluster-deploy runs --run <id>`
    StepLog::audit_to(audit_file(plan.output_dir / "runs" / (run_id() + ".jsonl")));
  }
  double started = now_seconds();
  std::optional<ClusterLock> lock; // the commands that change nodes hold them for the run
  if (changes_nodes && !take_nodes(cluster, name, services, options, lock)) {
    StepLog::audit_to({});
    append_run(plan.output_dir / "runs.jsonl", {run_id(), name, started, now_seconds(), k_exit_node_failure, ""});
    return k_exit_node_failure;
  }
  bool ok = command.run(cluster, services, options);
  lock.reset();
  StepLog::audit_to({});
  return finish_run(command, plan, options, output.rows(), ok, changes_nodes ? started : -1);
}


/// A collector for `plan` with fresh connections (collect, run-test); empty lists: all.
Collector plan_collector(const Plan& plan, const std::vector<const Node*>& nodes,
                         const std::vector<const Service*>& services, const Options& options)
{
  return [&plan, nodes, services, &options](const CollectOptions& window) {
    Output output(parse_color(options.color), Format::text, false);
    return collect_from_plan(plan, nodes, services, connector(options), output, window);
  };
}

/// collect: the evidence of a window, or (--pending) of the tests killed before they could.
int execute_collect(Options& options)
{
  Plan plan = load_plan(options.plan).value_or_throw();
  auto nodes = select_nodes(plan, options.selection).value_or_throw();
  auto services = select_services(plan, options.selection).value_or_throw();
  std::filesystem::path evidence = plan.output_dir / "evidence";
  if (options.collect.pending) {
    int n = collect_pending(evidence, plan_collector(plan, nodes, services, options));
    print_out("cluster-deploy: collected the evidence of " + std::to_string(n) + " test(s) killed before they could\n");
    return k_exit_ok;
  }
  double now = now_seconds();
  CollectOptions window;
  window.since = parse_time(options.collect.since, now).value_or_throw();
  window.until = options.collect.until.empty() ? now : parse_time(options.collect.until, now).value_or_throw();
  if (window.until <= window.since) {
    throw Error("--until must come after --since");
  }
  window.out = options.collect.out.empty() ? evidence / "collect" / std::to_string(static_cast<long long>(now))
                                           : std::filesystem::path(options.collect.out);
  auto files = plan_collector(plan, nodes, services, options)(window).value_or_throw(k_exit_node_failure);
  print_out("cluster-deploy: evidence in " + window.out.string() + "\n");
  for (const auto& file : files) {
    print_out("  " + file.string() + "\n");
  }
  return k_exit_ok;
}

/// run-test: how CTest runs a cluster_deploy_add_test test (the deadline comes from the module).
int execute_run_test(Options& options)
{
  Plan plan = load_plan(options.plan).value_or_throw();
  options.test.evidence = plan.output_dir / "evidence";
  if (const char* deadline = std::getenv("CLUSTER_DEPLOY_TEST_DEADLINE")) {
    options.test.deadline = std::atoi(deadline);
  }
  return run_test(options.test, plan_collector(plan, {}, {}, options));
}

/// collect and run-test: the evidence of a failed test (collect.hpp, run_test.hpp).
std::pair<CLI::App*, CLI::App*> add_evidence_commands(CLI::App& app, Options& options)
{
  CLI::App* collect = app.add_subcommand(
      "collect", "write the evidence of a time window from every node (journals, faults, status, timeline.html); "
                 "reads only");
  add_selection_options(*collect, options);
  collect->add_option("--since", options.collect.since, "start: epoch seconds, -10m (ago) or 2026-12-03T20:00:00Z")
      ->capture_default_str();
  collect->add_option("--until", options.collect.until, "end, in the same forms (default: now)");
  collect->add_option("--out", options.collect.out,
                      "the folder to write (default <build>/cluster-deploy/evidence/collect/<time>)");
  collect->add_flag("--pending", options.collect.pending,
                    "collect for the tests killed before they could (what the cluster.cleanup fixture runs)");
  CLI::App* test = app.add_subcommand(
      "run-test", "run a cluster test's command as CTest does for cluster_deploy_add_test: on failure or "
                  "timeout, collect its evidence");
  test->add_option("--plan", options.plan, "plan file written by CMake (<build>/cluster-deploy/plan.xml)")->required();
  test->add_option("--name", options.test.name, "the test's name (its evidence folder)")->required();
  test->add_flag("--always", options.test.always, "collect for a passing test too");
  test->add_option("command", options.test.command, "the test's command, after --")->required();
  return {collect, test};
}

} // namespace

int run(int argc, char** argv)
{
  CLI::App app{"cluster-deploy: deploy, start, stop and inspect a cluster over SSH"};
  app.set_version_flag("--version", "cluster-deploy " CLUSTER_DEPLOY_VERSION);
  app.require_subcommand(1);
  Options options;
  const Command* chosen = nullptr;
  std::string agent_socket;
  int agent_idle = 600;
  CLI::App* agent = app.add_subcommand("agent", "keep SSH sessions to the nodes open between runs (started by --warm; "
                                                "exits after --idle seconds without a client)");
  agent->add_option("--socket", agent_socket, "the socket to serve (in a folder of this user's alone)")->required();
  agent->add_option("--idle", agent_idle, "seconds without a client before it exits")->check(CLI::Range(1, 86400));
  auto [collect, test] = add_evidence_commands(app, options);
  for (const auto& command : commands()) {
    CLI::App* sub = app.add_subcommand(command.name, command.help);
    add_selection_options(*sub, options);
    add_command_options(command.name, *sub, options);
    sub->callback([&chosen, &command] { chosen = &command; });
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? k_exit_ok : k_exit_usage;
  }
  setup_logging(options);
  if (agent->parsed()) {
    return run_agent(agent_socket, Seconds{agent_idle}, [](const ConnectOptions& o) { return connect_ssh(o); });
  }
  try {
    if (collect->parsed()) {
      return execute_collect(options);
    }
    if (test->parsed()) {
      return execute_run_test(options);
    }
    return execute(*chosen, options);
  } catch (const Error& e) {
    print_note(std::string("error: ") + e.what());
    return e.exit_code();
  } catch (const std::exception& e) {
    print_note(std::string("internal error: ") + e.what());
    return k_exit_node_failure;
  }
}

} // namespace deploy
