// SHA-256 through OpenSSL's EVP interface.
#pragma once

#include "error.hpp"

#include <filesystem>
#include <string>
#include <string_view>

namespace deploy {

/// Lower-case hex SHA-256 of `data`.
std::string sha256_hex(std::string_view data);

/// Lower-case hex SHA-256 of a file's contents; fails naming the path.
Result<std::string> sha256_file(const std::filesystem::path& path);

} // namespace deploy
