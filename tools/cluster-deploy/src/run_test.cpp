#include "run_test.hpp"

#include "console.hpp"


#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iterator>
#include <optional>
#include <sstream>

namespace deploy {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

std::atomic<int> g_forward{0}; // a signal for the test: ctest or a user stopping us

void on_signal(int signo)
{
  g_forward.store(signo);
}

double now_seconds()
{
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

/// "20261203T200102Z": one evidence folder per failed run of a test.
std::string folder_stamp(double seconds)
{
  auto t = static_cast<std::time_t>(seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y%m%dT%H%M%SZ", &tm);
  return text;
}

/// The marker of a test under way: <evidence>/.running/<name>/{started,output.txt,history.jsonl}.
fs::path marker_dir(const fs::path& evidence, const std::string& name)
{
  return evidence / ".running" / name;
}

/// The test's folder for this failure, with `latest` pointing to it.
fs::path evidence_dir(const fs::path& evidence, const std::string& name, double when)
{
  fs::path dir = evidence / name / folder_stamp(when);
  std::error_code ec;
  mode_t old_mask = umask(077);
  fs::create_directories(dir.parent_path(), ec);
  umask(old_mask);
  fs::path link = dir.parent_path() / "latest";
  fs::path temporary = dir.parent_path() / ".latest.new";
  fs::remove(temporary, ec);
  fs::create_directory_symlink(dir.filename(), temporary, ec);
  fs::rename(temporary, link, ec);
  return dir;
}

void report(const std::string& name, const std::string& result, const fs::path& dir,
            const Result<std::vector<fs::path>>& files)
{
  if (!files) {
    print_out("cluster-deploy: " + name + " " + result + "; collecting its evidence failed: " + files.error() + "\n");
    return;
  }
  print_out("cluster-deploy: " + name + " " + result + ": evidence in " + dir.string() +
            " (summary.txt, then timeline.html)\n");
  // Jenkins and Azure attach these to the JUnit test case; GitLab too, with a path relative
  // to its project folder.
  const char* project = std::getenv("CI_PROJECT_DIR");
  for (const auto& file : *files) {
    fs::path path = fs::absolute(file);
    if (project && *project && path.string().starts_with(fs::path(project).lexically_normal().string() + "/")) {
      path = path.lexically_relative(project);
    }
    print_out("[[ATTACHMENT|" + path.string() + "]]\n");
  }
  std::fflush(stdout);
}

/// Starts the test in a process group of its own, its stdout and stderr on `out`; it dies
/// with us (a ctest that kills us kills the test).
pid_t start_test(const std::vector<std::string>& command, int out, const fs::path& history)
{
  pid_t pid = fork();
  if (pid != 0) {
    return pid;
  }
  setpgid(0, 0);
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  dup2(out, STDOUT_FILENO);
  dup2(out, STDERR_FILENO);
  close(out);
  setenv("CLUSTER_DEPLOY_HISTORY", history.c_str(), 1);
  std::vector<char*> argv;
  for (const auto& word : command) {
    argv.push_back(const_cast<char*>(word.c_str()));
  }
  argv.push_back(nullptr);
  execvp(argv[0], argv.data());
  print_note(std::string("run-test: cannot run ") + argv[0] + ": " + std::strerror(errno));
  _exit(127);
}

/// Passes the test's output through (and into `copy`) until it exits; stops it at the
/// deadline (SIGTERM to its group, SIGKILL 5 s later). Returns its wait status and whether
/// the deadline stopped it.
std::pair<int, bool> supervise(pid_t pid, int out, std::ofstream& copy, int deadline)
{
  auto start = Clock::now();
  std::optional<Clock::time_point> killed_at;
  bool timed_out = false;
  int status = 0;
  bool exited = false;
  auto exit_seen = Clock::time_point{};
  char buffer[65536];
  for (;;) {
    if (int signo = g_forward.exchange(0); signo != 0) {
      kill(-pid, signo);
    }
    if (deadline > 0 && !timed_out && Clock::now() - start >= std::chrono::seconds(deadline)) {
      timed_out = true;
      killed_at = Clock::now();
      print_out("cluster-deploy: run-test: stopping the test at its deadline of " + std::to_string(deadline) + " s\n");
      std::fflush(stdout);
      kill(-pid, SIGTERM);
    }
    if (killed_at && Clock::now() - *killed_at >= std::chrono::seconds(5)) {
      kill(-pid, SIGKILL);
      killed_at.reset();
    }
    if (!exited && waitpid(pid, &status, WNOHANG) == pid) {
      exited = true;
      exit_seen = Clock::now();
    }
    // A process the test left in the background may hold the pipe: after the test
    // itself is gone, read on for a second at most.
    if (exited && Clock::now() - exit_seen > std::chrono::seconds(1)) {
      break;
    }
    pollfd fd{out, POLLIN, 0};
    if (poll(&fd, 1, 200) <= 0) {
      continue;
    }
    ssize_t n = read(out, buffer, sizeof buffer);
    if (n <= 0) {
      if (!exited) {
        waitpid(pid, &status, 0);
      }
      break;
    }
    print_out(std::string_view(buffer, static_cast<std::size_t>(n)));
    std::fflush(stdout);
    copy.write(buffer, n);
    copy.flush();
  }
  return {status, timed_out};
}

/// What a killed test left running: the rest of its process group (the test itself died
/// with run-test; what it started did not).
void end_left_behind(pid_t group, const std::string& name)
{
  if (group <= 1) {
    return;
  }
  std::error_code ec;
  for (const auto& proc : fs::directory_iterator("/proc", ec)) {
    std::ifstream stat(proc.path() / "stat");
    std::string line;
    std::getline(stat, line);
    auto close_paren = line.rfind(')');
    if (close_paren == std::string::npos) {
      continue;
    }
    std::istringstream fields(line.substr(close_paren + 2));
    std::string state;
    long parent = 0, pgrp = 0;
    fields >> state >> parent >> pgrp;
    if (pgrp == group) {
      print_out("cluster-deploy: ending what the killed test " + name + " left running (process group " +
                std::to_string(group) + ")\n");
      kill(-group, SIGKILL);
      return;
    }
  }
}

int exit_code(int status)
{
  return WIFEXITED(status) ? WEXITSTATUS(status) : WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 1;
}

} // namespace

int run_test(const RunTestOptions& options, const Collector& collect)
{
  double started = now_seconds();
  fs::path marker = marker_dir(options.evidence, options.name);
  std::error_code ec;
  fs::remove_all(marker, ec);
  mode_t old_mask = umask(077);
  fs::create_directories(marker, ec);
  std::ofstream copy(marker / "output.txt", std::ios::binary);
  umask(old_mask);

  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
    print_note(std::string("run-test: pipe: ") + std::strerror(errno));
    return 1;
  }
  struct sigaction action {};
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);

  pid_t pid = start_test(options.command, pipe_fds[1], marker / "history.jsonl");
  close(pipe_fds[1]);
  std::ofstream(marker / "started") << std::fixed << started << " " << getpid() << " " << pid << "\n";
  auto [status, timed_out] = supervise(pid, pipe_fds[0], copy, options.deadline);
  close(pipe_fds[0]);
  copy.close();
  int code = timed_out ? k_exit_test_timed_out : exit_code(status);

  bool passed = code == 0 && !timed_out;
  if (code != k_exit_test_skipped && (!passed || options.always)) {
    std::string result = timed_out ? "timed out after " + std::to_string(options.deadline) + " s"
                         : passed  ? "passed"
                                   : "failed (exit " + std::to_string(code) + ")";
    double ended = now_seconds();
    fs::path dir = evidence_dir(options.evidence, options.name, ended);
    CollectOptions window;
    window.since = started - 5; // what led up to the test's first step
    window.until = ended + 1;
    window.out = dir;
    window.test = options.name;
    window.result = result;
    window.test_output = marker / "output.txt";
    window.history = marker / "history.jsonl";
    report(options.name, result, dir, collect(window));
  }
  fs::remove_all(marker, ec);
  return code;
}

int collect_pending(const fs::path& evidence, const Collector& collect)
{
  int collected = 0;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(evidence / ".running", ec)) {
    double started = 0;
    long pid = 0, group = 0;
    std::ifstream(entry.path() / "started") >> started >> pid >> group;
    std::ifstream cmdline("/proc/" + std::to_string(pid) + "/cmdline");
    std::string words((std::istreambuf_iterator<char>(cmdline)), std::istreambuf_iterator<char>());
    if (pid > 0 && words.find("run-test") != std::string::npos) {
      continue; // still running (another ctest of this build tree)
    }
    std::string name = entry.path().filename();
    end_left_behind(static_cast<pid_t>(group), name);
    double ended = now_seconds();
    fs::path dir = evidence_dir(evidence, name, ended);
    CollectOptions window;
    window.since = started > 0 ? started - 5 : ended - 600;
    window.until = ended;
    window.out = dir;
    window.test = name;
    window.result = "killed before it could collect (CTest's TIMEOUT, or ctest stopped); collected afterwards";
    window.test_output = entry.path() / "output.txt";
    window.history = entry.path() / "history.jsonl";
    report(name, "was killed", dir, collect(window));
    fs::remove_all(entry.path(), ec);
    ++collected;
  }
  return collected;
}

} // namespace deploy
