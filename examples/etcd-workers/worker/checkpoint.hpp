#pragma once
// The worker's checkpoint: its last result, also kept in a file of its data folder
// (<data_dir>/checkpoint) with a checksum, read back before each rewrite. That is where the
// worker notices a damaged file (the `corrupt` fault) and a disk that takes no more writes
// (the `disk-full` fault); both show in the result it publishes.
#include <filesystem>
#include <string>

namespace worker {

/// The file's text: the document on one line, then "fnv1a64 <16 hex digits>" of that line.
std::string checkpoint_text(const std::string& document);

/// "ok" when `text` is a document with its checksum, else "corrupt: <what is wrong>".
std::string check_checkpoint(const std::string& text);

/// check_checkpoint of the file, or "none" when there is no file.
std::string verify_checkpoint_file(const std::filesystem::path& path);

/// Replaces the file (a temporary file, then rename): "ok", or the error, like "No space left
/// on device". The old file stays whole when the new one cannot be written.
std::string write_checkpoint_file(const std::filesystem::path& path, const std::string& document);

} // namespace worker
