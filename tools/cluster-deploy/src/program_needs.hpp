// What a program needs from the node that runs it: the architecture it was built for, its
// loader, its shared libraries and the symbol versions it uses from each (read from the
// ELF file with libelf); and, for BUNDLE_LIBS, where the controller's copies of them are.
#pragma once

#include "error.hpp"

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace deploy {

/// A shared library a program links and the versions (GLIBC_2.34, ...) it uses from it.
struct LibraryNeed {
  std::string soname;
  std::vector<std::string> versions;
};

struct ProgramNeeds {
  int machine = 0;         ///< ELF e_machine (62: x86-64, 183: aarch64, ...)
  std::string interpreter; ///< the loader (PT_INTERP); empty for static programs and libraries
  std::vector<LibraryNeed> libraries;
  bool go = false; ///< built by Go (its runtime reads the clock without libc)
};

/// The needs of an ELF file; nullopt for anything else (a script), which is not checked.
Result<std::optional<ProgramNeeds>> read_program_needs(const std::filesystem::path& file);

/// A library of the controller that a program loads (found as the loader would).
struct BundledLibrary {
  std::string soname; ///< for the loader: the file name of the program's PT_INTERP
  std::filesystem::path local;
  bool is_loader = false; ///< the dynamic loader (BUNDLE_LIBS ALL), started with the program as argument
};

/// The shared libraries `program` loads here, direct and indirect, except glibc's own
/// (libc, libm, the loader...), which must match the node's loader and come from the node.
/// Fails naming a library the controller cannot find either.
Result<std::vector<BundledLibrary>> libraries_to_bundle(const std::filesystem::path& program);

/// The whole closure `program` loads here (BUNDLE_LIBS ALL): every shared library, glibc's
/// own included, and the loader its PT_INTERP names, last. Fails for a program without a
/// loader (static, or not ELF) and, as libraries_to_bundle, for a library not found.
Result<std::vector<BundledLibrary>> closure_to_bundle(const std::filesystem::path& program);

/// glibc's own libraries: never bundled, always the node's.
bool is_glibc_library(std::string_view soname);

} // namespace deploy
