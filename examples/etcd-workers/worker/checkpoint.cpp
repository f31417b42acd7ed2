#include "checkpoint.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

namespace worker {
namespace {

std::string fnv1a64(const std::string& text)
{
  std::uint64_t hash = 0xcbf29ce484222325ULL;
  for (const unsigned char c : text) {
    hash = (hash ^ c) * 0x100000001b3ULL;
  }
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(hash));
  return hex;
}

/// Writes all of `text` to `fd`: "ok" or the error.
std::string write_all(int fd, const std::string& text)
{
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return std::strerror(n < 0 ? errno : EIO);
    }
    done += static_cast<std::size_t>(n);
  }
  return "ok";
}

} // namespace

std::string checkpoint_text(const std::string& document)
{
  return document + "\nfnv1a64 " + fnv1a64(document) + "\n";
}

std::string check_checkpoint(const std::string& text)
{
  const auto newline = text.find('\n');
  if (newline == std::string::npos) {
    return "corrupt: no checksum line (cut short?)";
  }
  const std::string document = text.substr(0, newline);
  const std::string rest = text.substr(newline + 1);
  if (rest.rfind("fnv1a64 ", 0) != 0 || rest.size() != 8 + 16 + 1 || rest.back() != '\n') {
    return "corrupt: bad checksum line (cut short?)";
  }
  if (rest.substr(8, 16) != fnv1a64(document)) {
    return "corrupt: checksum mismatch";
  }
  return "ok";
}

std::string verify_checkpoint_file(const std::filesystem::path& path)
{
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    return "none";
  }
  std::ostringstream text;
  text << file.rdbuf();
  return check_checkpoint(text.str());
}

std::string write_checkpoint_file(const std::filesystem::path& path, const std::string& document)
{
  const std::string temp = path.string() + ".tmp";
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    return std::strerror(errno);
  }
  std::string outcome = write_all(fd, checkpoint_text(document));
  if (::close(fd) != 0 && outcome == "ok") {
    outcome = std::strerror(errno);
  }
  if (outcome == "ok" && std::rename(temp.c_str(), path.c_str()) != 0) {
    outcome = std::strerror(errno);
  }
  if (outcome != "ok") {
    ::unlink(temp.c_str());
  }
  return outcome;
}

} // namespace worker
