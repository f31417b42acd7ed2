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
