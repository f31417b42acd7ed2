#include "agent_wire.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>

namespace deploy {
namespace {

constexpr std::uint32_t k_max_frame = 256u << 20;

Result<void> write_all(int fd, const char* data, size_t size)
{
  while (size > 0) {
    ssize_t n = ::send(fd, data, size, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return fail(std::string("agent connection: ") + std::strerror(errno));
    }
    data += n;
    size -= static_cast<size_t>(n);
  }
  return {};
}

Result<void> read_all(int fd, char* data, size_t size)
{
  while (size > 0) {
    ssize_t n = ::recv(fd, data, size, 0);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n == 0) {
      return fail("agent connection closed");
    }
    if (n < 0) {
      return fail(std::string("agent connection: ") + std::strerror(errno));
    }
    data += n;
    size -= static_cast<size_t>(n);
  }
  return {};
}

void put_u32(std::string& out, std::uint32_t value)
{
  for (int shift : {24, 16, 8, 0}) {
    out.push_back(static_cast<char>((value >> shift) & 0xff));
  }
}

Result<std::uint32_t> get_u32(int fd)
{
  unsigned char bytes[4];
  CD_TRY_VOID(read_all(fd, reinterpret_cast<char*>(bytes), sizeof bytes));
  return (std::uint32_t{bytes[0]} << 24) | (std::uint32_t{bytes[1]} << 16) | (std::uint32_t{bytes[2]} << 8) |
         std::uint32_t{bytes[3]};
}

} // namespace

Result<void> write_frame(int fd, const Frame& frame)
{
  std::string out;
  put_u32(out, static_cast<std::uint32_t>(frame.size()));
  for (const auto& field : frame) {
    put_u32(out, static_cast<std::uint32_t>(field.size()));
    out += field;
  }
  return write_all(fd, out.data(), out.size());
}

Result<Frame> read_frame(int fd)
{
  CD_TRY(count, get_u32(fd));
  Frame frame;
  std::uint64_t total = 0;
  for (std::uint32_t i = 0; i < *count; ++i) {
    CD_TRY(size, get_u32(fd));
    total += *size;
    if (total > k_max_frame) {
      return fail("agent connection: a frame over 256 MiB");
    }
    std::string field(*size, '\0');
    CD_TRY_VOID(read_all(fd, field.data(), field.size()));
    frame.push_back(std::move(field));
  }
  return frame;
}

Frame connect_frame(const ConnectOptions& options)
{
  return {"connect",
          options.host,
          std::to_string(options.port),
          options.user,
          options.ssh_config.string(),
          options.known_hosts.string(),
          options.identity.string(),
          options.host_key_policy == HostKeyPolicy::strict ? "strict" : "accept-new",
          std::to_string(options.connect_timeout.count())};
}

Result<ConnectOptions> parse_connect_frame(const Frame& frame)
{
  if (frame.size() != 9 || frame[0] != "connect") {
    return fail("the agent expected a connect request");
  }
  ConnectOptions options;
  options.host = frame[1];
  options.port = std::atoi(frame[2].c_str());
  options.user = frame[3];
  options.ssh_config = frame[4];
  options.known_hosts = frame[5];
  options.identity = frame[6];
  options.host_key_policy = frame[7] == "strict" ? HostKeyPolicy::strict : HostKeyPolicy::accept_new;
  options.connect_timeout = seconds_of(frame[8]);
  return options;
}

Frame exec_frame(const Result<ExecResult>& result)
{
  if (!result) {
    return {"error", result.error()};
  }
  return {"ok", std::to_string(result->exit_status), result->exit_signal, result->out, result->err};
}

Result<ExecResult> parse_exec_frame(const Frame& frame)
{
  if (frame.size() == 5 && frame[0] == "ok") {
    return ExecResult{std::atoi(frame[1].c_str()), frame[2], frame[3], frame[4]};
  }
  return fail(frame.size() == 2 && frame[0] == "error" ? frame[1] : "the agent answered nonsense");
}

void add_input_parts(Frame& frame, const std::vector<InputPart>& input)
{
  for (const auto& part : input) {
    if (part.file.empty()) {
      frame.insert(frame.end(), {"b", std::string(part.bytes)});
    } else {
      frame.insert(frame.end(), {"f", std::filesystem::absolute(part.file).string(), std::to_string(part.from)});
    }
  }
}

std::optional<std::vector<InputPart>> input_parts(const Frame& frame, std::size_t first)
{
  std::vector<InputPart> parts;
  for (std::size_t i = first; i < frame.size();) {
    if (frame[i] == "b" && i + 1 < frame.size()) {
      parts.emplace_back(std::string_view(frame[i + 1]));
      i += 2;
    } else if (frame[i] == "f" && i + 2 < frame.size() && !frame[i + 1].empty()) {
      parts.emplace_back(std::filesystem::path(frame[i + 1]), std::strtoull(frame[i + 2].c_str(), nullptr, 10));
      i += 3;
    } else {
      return std::nullopt;
    }
  }
  return parts;
}

Result<std::string> parse_value_frame(const Frame& frame)
{
  if (frame.size() == 2 && frame[0] == "ok") {
    return frame[1];
  }
  return fail(frame.size() == 2 && frame[0] == "error" ? frame[1] : "the agent answered nonsense");
}

Seconds seconds_of(const std::string& field)
{
  return Seconds{std::strtol(field.c_str(), nullptr, 10)};
}

Result<std::filesystem::path> agent_dir()
{
  const char* runtime = std::getenv("XDG_RUNTIME_DIR");
  std::filesystem::path dir = runtime && *runtime ? std::filesystem::path(runtime) / "cluster-deploy"
                                                  : std::filesystem::path("/tmp/cluster-deploy-" + std::to_string(getuid()));
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return fail("cannot create " + dir.string() + ": " + std::strerror(errno));
  }
  struct stat st {};
  if (::lstat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != getuid() || (st.st_mode & 077) != 0) {
    return fail(dir.string() + " is not a folder of this user's alone (mode 0700): not using warm sessions there");
  }
  return dir;
}

Result<std::filesystem::path> agent_socket(const std::filesystem::path& exe)
{
  CD_TRY(dir, agent_dir());
  struct stat st {};
  if (::stat(exe.c_str(), &st) != 0) {
    return fail("cannot read " + exe.string() + ": " + std::strerror(errno));
  }
  std::string id = std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino) + ":" + std::to_string(st.st_size) + ":" +
                   std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec);
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016zx", std::hash<std::string>{}(id));
  return *dir / ("agent-" + std::string(hex) + ".sock");
}

Result<int> connect_agent(const std::filesystem::path& socket)
{
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (socket.string().size() >= sizeof address.sun_path) {
    return fail("agent socket path too long: " + socket.string());
  }
  std::strcpy(address.sun_path, socket.c_str());
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return fail(std::string("socket: ") + std::strerror(errno));
  }
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    int error = errno;
    ::close(fd);
    return fail("no agent at " + socket.string() + ": " + std::strerror(error));
  }
  return fd;
}

} // namespace deploy
