// The libssh transport against a real sshd on 127.0.0.1, started by run-loopback.sh.
#include "transport.hpp"

#include <catch2/catch.hpp>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>
#include <unistd.h>
#include <vector>

namespace {

using namespace deploy;
using std::chrono::steady_clock;

std::string env(const char* name)
{
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') {
    FAIL(std::string("missing environment variable ") + name + " (run through run-loopback.sh)");
  }
  return value;
}

std::filesystem::path temp_dir()
{
  return env("CD_LOOPBACK_TMP");
}

ConnectOptions loopback_options()
{
  ConnectOptions options;
  options.host = env("CD_LOOPBACK_HOST");
  options.port = std::stoi(env("CD_LOOPBACK_PORT"));
  options.user = env("CD_LOOPBACK_USER");
  options.identity = env("CD_LOOPBACK_KEY");
  options.known_hosts = env("CD_LOOPBACK_KNOWN_HOSTS");
  options.ssh_config = env("CD_LOOPBACK_SSH_CONFIG");
  options.connect_timeout = Seconds(10);
  return options;
}

std::unique_ptr<Transport> connect_loopback()
{
  auto transport = connect_ssh(loopback_options());
  INFO((transport.ok() ? std::string() : transport.error()));
  REQUIRE(transport.ok());
  return std::move(transport).value();
}

/// POSIX single-quote quoting, as the orchestration code quotes arguments.
std::string quoted(const std::string& text)
{
  std::string out = "'";
  for (const char c : text) {
    out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  }
  return out + "'";
}

std::string read_file(const std::filesystem::path& path)
{
  std::ifstream stream(path, std::ios::binary);
  std::ostringstream text;
  text << stream.rdbuf();
  return text.str();
}

std::string random_bytes(std::size_t size)
{
  std::mt19937 engine(42);
  std::string data(size, '\0');
  for (auto& c : data) {
    c = static_cast<char>(engine() & 0xff);
  }
  return data;
}

std::string first_word(const std::string& text)
{
  return text.substr(0, text.find_first_of(" \n"));
}

std::string local_sha256(const std::filesystem::path& path)
{
  const std::string command = "sha256sum " + quoted(path.string()) + " > " + quoted(path.string() + ".sum");
  REQUIRE(std::system(command.c_str()) == 0);
  return first_word(read_file(path.string() + ".sum"));
}

std::filesystem::path copy_known_hosts(const char* source_env, const char* name)
{
  const auto target = temp_dir() / name;
  std::filesystem::remove(target);
  if (source_env != nullptr) {
    std::filesystem::copy_file(env(source_env), target);
  } else {
    std::ofstream(target).flush();
  }
  return target;
}

/// Whether a process with exactly these arguments runs on the controller (the loopback
/// sshd's commands do), waiting up to `patience` for it to go away.
bool process_runs(const std::vector<std::string>& args, std::chrono::milliseconds patience)
{
  std::string wanted;
  for (const auto& arg : args) {
    wanted += arg + '\0';
  }
  const auto give_up = steady_clock::now() + patience;
  while (true) {
    bool found = false;
    for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
      const std::string name = entry.path().filename();
      if (name.find_first_not_of("0123456789") == std::string::npos && read_file(entry.path() / "cmdline") == wanted) {
        found = true;
      }
    }
    if (!found || steady_clock::now() >= give_up) {
      return found;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

/// A streaming sink that keeps everything in `seen`.
ChunkSink keep_in(std::string& seen)
{
  return [&seen](std::string_view chunk) {
    seen += chunk;
    return true;
  };
}

} // namespace

TEST_CASE("exec returns stdout, stderr and the exit status", "[loopback]")
{
  auto transport = connect_loopback();
  auto result = transport->exec("echo out; echo err >&2; exit 3", "", Seconds(20));
  REQUIRE(result.ok());
  CHECK(result->out == "out\n");
  CHECK(result->err == "err\n");
  CHECK(result->exit_status == 3);
  CHECK(result->exit_signal.empty());
  CHECK_FALSE(result->succeeded());

  auto again = transport->exec("true", "", Seconds(20));
  REQUIRE(again.ok());
  CHECK(again->succeeded());
}

TEST_CASE("exec passes stdin through", "[loopback]")
{
  auto transport = connect_loopback();
  const std::string data = random_bytes(1024 * 1024);
  auto result = transport->exec("cat", data, Seconds(30));
  REQUIRE(result.ok());
  CHECK(result->exit_status == 0);
  CHECK(result->out.size() == data.size());
  CHECK(result->out == data);
}

TEST_CASE("a command that does not read its stdin still finishes", "[loopback]")
{
  auto transport = connect_loopback();
  auto result = transport->exec("exit 0", random_bytes(8 * 1024 * 1024), Seconds(30));
  REQUIRE(result.ok());
  CHECK(result->exit_status == 0);
}

TEST_CASE("exec_with_input uploads a file byte-exact", "[loopback]")
{
  auto transport = connect_loopback();
  const auto local = temp_dir() / "upload.bin";
  {
    std::ofstream(local, std::ios::binary) << random_bytes(20 * 1024 * 1024 + 123);
  }
  const auto remote = temp_dir() / "uploaded.bin";
  const auto start = steady_clock::now();
  auto result = transport->exec_with_input(
      "cat > " + quoted(remote.string()) + " && sha256sum " + quoted(remote.string()), {{local, 0}}, Seconds(60));
  const std::chrono::duration<double> elapsed = steady_clock::now() - start;
  REQUIRE(result.ok());
  CHECK(result->exit_status == 0);
  CHECK(first_word(result->out) == local_sha256(local));
  const double mb = static_cast<double>(std::filesystem::file_size(local)) / 1e6;
  WARN("uploaded " << mb << " MB in " << elapsed.count() << " s: " << mb / elapsed.count() << " MB/s");
}

TEST_CASE("exec_with_input from a byte on sends the rest of the file (a resumed upload)", "[loopback]")
{
  auto transport = connect_loopback();
  const auto local = temp_dir() / "resume.bin";
  {
    std::ofstream(local, std::ios::binary) << "0123456789";
  }
  auto result = transport->exec_with_input("cat", {{local, 4}}, Seconds(10));
  REQUIRE(result.ok());
  CHECK(result->out == "456789");
}

TEST_CASE("exec_with_input sends its parts one after the other: files and bytes, a large file whole", "[loopback]")
{
  auto transport = connect_loopback();
  const auto small = temp_dir() / "parts-small.bin";
  const auto large = temp_dir() / "parts-large.bin";
  {
    std::ofstream(small, std::ios::binary) << "0123456789";
    std::ofstream(large, std::ios::binary) << random_bytes(3 * 1024 * 1024 + 5);
  }
  // The node splits the stream as the batch of an upload does: each part by its length.
  auto result = transport->exec_with_input("head -c 6 | od -An -c | tr -d ' \\n'; echo; head -c 3145733 | sha256sum; cat",
                                           {{small, 4}, {large, 0}, {"manifest"}}, Seconds(30));
  REQUIRE(result.ok());
  CHECK(result->out == "456789\n" + local_sha256(large) + "  -\nmanifest");
}

TEST_CASE("exec_with_input fails for a local file that cannot be opened", "[loopback]")
{
  auto transport = connect_loopback();
  auto result = transport->exec_with_input("cat > /dev/null", {{"x"}, {temp_dir() / "no-such-file", 0}}, Seconds(10));
  REQUIRE_FALSE(result.ok());
  CHECK_THAT(result.error(), Catch::Contains("no-such-file"));
}

TEST_CASE("a command killed by a signal reports the signal", "[loopback]")
{
  auto transport = connect_loopback();
  auto result = transport->exec("kill -KILL $$", "", Seconds(20));
  REQUIRE(result.ok());
  CHECK(result->exit_status == -1);
  CHECK(result->exit_signal == "KILL");
}

TEST_CASE("a connection that breaks during a command is a failure", "[loopback]")
{
  auto transport = connect_loopback();
  // The shell's parent is the sshd process serving this connection.
  auto result = transport->exec("kill -KILL $PPID; sleep 5", "", Seconds(20));
  REQUIRE_FALSE(result.ok());
  CHECK_THAT(result.error(), Catch::StartsWith("127.0.0.1: "));

  auto next = transport->exec("true", "", Seconds(5));
  REQUIRE_FALSE(next.ok());
  CHECK_THAT(next.error(), Catch::StartsWith("127.0.0.1: "));
}

TEST_CASE("a command timeout is a failure and returns in bounded time", "[loopback]")
{
  auto transport = connect_loopback();
  const auto start = steady_clock::now();
  auto result = transport->exec("sleep 8", "", Seconds(1));
  CHECK(steady_clock::now() - start < std::chrono::seconds(5));
  REQUIRE_FALSE(result.ok());
  CHECK_THAT(result.error(), Catch::Contains("timed out after 1s") && Catch::Contains("sleep 8"));

  auto after = transport->exec("echo still here", "", Seconds(20));
  REQUIRE(after.ok());
  CHECK(after->out == "still here\n");
}

TEST_CASE("a command whose output never pauses still times out", "[loopback]")
{
  auto transport = connect_loopback();
  const auto start = steady_clock::now();
  auto result = transport->exec("yes | head -c 50000000; sleep 8", "", Seconds(1));
  CHECK(steady_clock::now() - start < std::chrono::seconds(5));
  REQUIRE_FALSE(result.ok());
  CHECK_THAT(result.error(), Catch::Contains("timed out after 1s"));
}

TEST_CASE("a timed-out command is killed, with what it started, even for a root login", "[loopback]")
{
  auto transport = connect_loopback();
  // A duration no other test or user runs, so that the process is ours to find.
  const std::string duration = "29." + std::to_string(getpid());
  auto result = transport->exec("sleep " + duration + "; echo not reached", "", Seconds(1));
  REQUIRE_FALSE(result.ok());
  CHECK_THAT(result.error(), Catch::Contains("timed out after 1s"));
  CHECK_FALSE(process_runs({"sleep", duration}, std::chrono::seconds(3)));

  auto after = transport->exec("echo still here", "", Seconds(20));
  REQUIRE(after.ok());
  CHECK(after->out == "still here\n");
}

TEST_CASE("an upload that keeps going is not cut off by its timeout", "[loopback]")
{
  auto transport = connect_loopback();
  const auto local = temp_dir() / "slow-upload.bin";
  {
    std::ofstream(local, std::ios::binary) << random_bytes(10 * 1024 * 1024);
  }
  // Takes 1 MiB every 0.3 s: about 3 s in all, each pause far below the 2 s timeout.
  const std::string slow_reader = "i=0; while [ $i -lt 10 ]; do head -c 1048576 > /dev/null; sleep 0.3; "
                                  "i=$((i + 1)); done; cat > /dev/null; echo done";
  const auto start = steady_clock::now();
  auto result = transport->exec_with_input(slow_reader, {{local, 0}}, Seconds(2));
  const auto elapsed = steady_clock::now() - start;
  INFO((result.ok() ? std::string() : result.error()));
  REQUIRE(result.ok());
  CHECK(result->out == "done\n");
  CHECK(elapsed > std::chrono::seconds(2)); // longer than the timeout in all
}

TEST_CASE("input the command stops taking times out and says so", "[loopback]")
{
  auto transport = connect_loopback();
  const auto start = steady_clock::now();
  auto result = transport->exec("sleep 8", random_bytes(8 * 1024 * 1024), Seconds(1));
  CHECK(steady_clock::now() - start < std::chrono::seconds(5));
  REQUIRE_FALSE(result.ok());
  CHECK_THAT(result.error(), Catch::Contains("timed out after 1s") && Catch::Contains("took none of its input"));
}

TEST_CASE("sessions on several threads work side by side", "[loopback]")
{
  auto options = loopback_options();
  options.known_hosts = copy_known_hosts(nullptr, "threads_known_hosts");
  options.host_key_policy = HostKeyPolicy::accept_new;
  constexpr int k_threads = 6;
  std::vector<std::string> outputs(k_threads);
  std::vector<std::thread> threads;
  for (int i = 0; i < k_threads; ++i) {
    threads.emplace_back([&, i] {
      auto transport = connect_ssh(options);
      if (!transport.ok()) {
        outputs[i] = transport.error();
        return;
      }
      auto result = (*transport)->exec("echo " + std::to_string(i), "", Seconds(20));
      outputs[i] = result.ok() ? result->out : result.error();
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  for (int i = 0; i < k_threads; ++i) {
    CHECK(outputs[i] == std::to_string(i) + "\n");
  }
}

TEST_CASE("exec_streaming delivers chunks and stops when the sink says so", "[loopback]")
{
  auto transport = connect_loopback();
  std::string seen;
  auto status = transport->exec_streaming("echo first; sleep 0.2; echo second; exit 4", keep_in(seen), Seconds(20));
  REQUIRE(status.ok());
  CHECK(*status == 4);
  CHECK(seen == "first\nsecond\n");

  const auto start = steady_clock::now();
  auto stopped = transport->exec_streaming(
      "for i in $(seq 100); do echo tick; sleep 0.1; done", [](std::string_view) { return false; }, Seconds(0));
  CHECK(steady_clock::now() - start < std::chrono::seconds(5));
  REQUIRE(stopped.ok());
  CHECK(*stopped == -1);
}

TEST_CASE("exec_streaming fails when its timeout passes, after delivering what came", "[loopback]")
{
  auto transport = connect_loopback();
  std::string seen;
  const auto start = steady_clock::now();
  auto status = transport->exec_streaming("echo tick; sleep 8", keep_in(seen), Seconds(1));
  CHECK(steady_clock::now() - start < std::chrono::seconds(5));
  REQUIRE_FALSE(status.ok());
  CHECK_THAT(status.error(), Catch::StartsWith("127.0.0.1: ") && Catch::Contains("timed out after 1s"));
  CHECK(seen == "tick\n");
}

TEST_CASE("tcp_request reaches the node's own ports", "[loopback]")
{
  auto transport = connect_loopback();
  const int sshd_port = std::stoi(env("CD_LOOPBACK_PORT"));

  SECTION("a port nobody listens on fails clearly")
  {
    auto result = transport->tcp_request(1, "hello", Seconds(5));
    REQUIRE_FALSE(result.ok());
    CHECK_THAT(result.error(), Catch::Contains("nothing accepts connections on port 1"));
  }
  SECTION("an empty request only checks the port")
  {
    auto result = transport->tcp_request(sshd_port, "", Seconds(5));
    REQUIRE(result.ok());
    CHECK(result->empty());
  }
  SECTION("sshd's own port answers with its banner")
  {
    auto result = transport->tcp_request(sshd_port, "SSH-2.0-loopback-test\r\n", Seconds(3));
    REQUIRE(result.ok());
    CHECK_THAT(*result, Catch::StartsWith("SSH-2.0-"));
  }
  auto after = transport->exec("echo ok", "", Seconds(20));
  REQUIRE(after.ok());
  CHECK(after->out == "ok\n");
}

TEST_CASE("an unknown host key is refused when strict and recorded with accept_new", "[loopback]")
{
  auto options = loopback_options();
  options.known_hosts = copy_known_hosts(nullptr, "empty_known_hosts");

  auto strict = connect_ssh(options);
  REQUIRE_FALSE(strict.ok());
  CHECK_THAT(strict.error(),
             Catch::Contains("is not known") && Catch::Contains("SHA256:") && Catch::Contains("127.0.0.1"));

  options.host_key_policy = HostKeyPolicy::accept_new;
  auto accepted = connect_ssh(options);
  INFO((accepted.ok() ? std::string() : accepted.error()));
  REQUIRE(accepted.ok());
  const std::string host_key = read_file(temp_dir() / "host_key.pub");
  const std::string key_blob = host_key.substr(0, host_key.rfind(' '));
  CHECK_THAT(read_file(options.known_hosts), Catch::Contains(key_blob));

  options.host_key_policy = HostKeyPolicy::strict;
  auto known_now = connect_ssh(options);
  CHECK(known_now.ok());
}

TEST_CASE("a changed host key is refused even with accept_new", "[loopback]")
{
  auto options = loopback_options();
  options.known_hosts = copy_known_hosts("CD_LOOPBACK_CHANGED_KNOWN_HOSTS", "changed_copy");
  options.host_key_policy = HostKeyPolicy::accept_new;
  const std::string before = read_file(options.known_hosts);

  auto result = connect_ssh(options);
  REQUIRE_FALSE(result.ok());
  CHECK_THAT(result.error(), Catch::Contains("has CHANGED") && Catch::Contains("SHA256:") &&
                                 Catch::Contains(options.known_hosts.string()));
  CHECK(read_file(options.known_hosts) == before);
}

TEST_CASE("authentication with a key the server does not accept fails clearly", "[loopback]")
{
  auto options = loopback_options();
  options.identity = temp_dir() / "other_key";
  auto result = connect_ssh(options);
  REQUIRE_FALSE(result.ok());
  CHECK_THAT(result.error(), Catch::Contains("authentication failed for " + options.user + "@127.0.0.1") &&
                                 Catch::Contains("publickey"));
}

TEST_CASE("a quoted argument with shell syntax stays one argument", "[loopback]")
{
  auto transport = connect_loopback();
  const auto marker = temp_dir() / "injected-marker";
  std::filesystem::remove(marker);
  const std::string payload =
      "';touch " + marker.string() + "'\";touch " + marker.string() + ";$(touch " + marker.string() + ")";
  auto result = transport->exec("printf %s " + quoted(payload), "", Seconds(20));
  REQUIRE(result.ok());
  CHECK(result->exit_status == 0);
  CHECK(result->out == payload);
  CHECK_FALSE(std::filesystem::exists(marker));
}

TEST_CASE("a key held only in ssh-agent logs in without any IdentityFile", "[loopback]")
{
  auto options = loopback_options();
  options.identity.clear(); // the sshd accepts client_key only, which is in the agent only
  setenv("SSH_AUTH_SOCK", env("CD_LOOPBACK_AGENT_SOCK").c_str(), 1);
  auto with_agent = connect_ssh(options);
  unsetenv("SSH_AUTH_SOCK");
  INFO((with_agent.ok() ? std::string() : with_agent.error()));
  REQUIRE(with_agent.ok());
  auto result = (*with_agent)->exec("echo agent-login", {}, Seconds(10));
  REQUIRE(result.ok());
  CHECK(result->out == "agent-login\n");

  auto without_agent = connect_ssh(options); // the same without the agent: refused
  REQUIRE_FALSE(without_agent.ok());
  CHECK_THAT(without_agent.error(), Catch::Contains("authentication failed"));
}

TEST_CASE("ssh_config options libssh ignores are reported once, naming file and line", "[loopback]")
{
  auto config = temp_dir() / "ignored_ssh_config";
  std::ofstream(config) << "Host *\n  ConnectionAttempts 2\n  ServerAliveInterval 5\n  ControlMaster auto\n"
                           "  BatchMode yes\n  IdentitiesOnly yes\n";
  std::ostringstream captured;
  auto previous = spdlog::default_logger();
  auto logger = std::make_shared<spdlog::logger>("capture", std::make_shared<spdlog::sinks::ostream_sink_mt>(captured));
  logger->set_level(spdlog::level::warn);
  logger->set_pattern("%l: %v");
  spdlog::set_default_logger(logger);
  auto options = loopback_options();
  options.ssh_config = config;
  auto first = connect_ssh(options);
  auto second = connect_ssh(options);
  spdlog::set_default_logger(previous);
  REQUIRE(first.ok());
  REQUIRE(second.ok()); // ignored options warn, they do not fail the connection
  const std::string text = captured.str();
  INFO(text);
  const std::string attempts = "warning: ssh_config: ConnectionAttempts at " + config.string() +
                               " (or a file it includes), line 2 is ignored (libssh 0.10 does not support it): "
                               "each node gets one connection attempt";
  CHECK_THAT(text, Catch::Contains(attempts));
  CHECK(text.find("ConnectionAttempts") == text.rfind("ConnectionAttempts")); // once, not once per connection
  CHECK_THAT(text, Catch::Contains("ServerAliveInterval at " + config.string() + " (or a file it includes), line 3"));
  CHECK_THAT(text, !Catch::Contains("ControlMaster"));  // does not apply: not worth a warning
  CHECK_THAT(text, !Catch::Contains("BatchMode"));      // the helper never prompts: nothing changes
  CHECK_THAT(text, !Catch::Contains("IdentitiesOnly")); // handled by the helper
}

TEST_CASE("IdentitiesOnly yes is honoured: an agent full of other keys does not use up MaxAuthTries", "[loopback]")
{
  auto options = loopback_options(); // IdentityFile = the accepted key
  setenv("SSH_AUTH_SOCK", env("CD_LOOPBACK_CROWDED_AGENT_SOCK").c_str(), 1);
  auto crowded = connect_ssh(options); // the agent's 6 keys are offered first: refused
  auto config = temp_dir() / "identities_only_ssh_config";
  std::ofstream(config) << "Host other.example\n  IdentitiesOnly no\nHost 127.0.0.*\n  IdentitiesOnly yes\n";
  options.ssh_config = config;
  auto only_file = connect_ssh(options);
  unsetenv("SSH_AUTH_SOCK");
  REQUIRE_FALSE(crowded.ok());
  CHECK_THAT(crowded.error(), Catch::Contains("authentication failed"));
  INFO((only_file.ok() ? std::string() : only_file.error()));
  REQUIRE(only_file.ok());
  auto result = (*only_file)->exec("echo identities-only", {}, Seconds(10));
  REQUIRE(result.ok());
  CHECK(result->out == "identities-only\n");
}
