#include "program_needs.hpp"

#include "quote.hpp"

#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <map>
#include <memory>
#include <set>
#include <sstream>

namespace deploy {
namespace {

struct FileCloser {
  int fd;
  ~FileCloser()
  {
    if (fd >= 0) {
      ::close(fd);
    }
  }
};

struct ElfCloser {
  void operator()(Elf* elf) const { elf_end(elf); }
};
using ElfHandle = std::unique_ptr<Elf, ElfCloser>;

struct PipeCloser {
  void operator()(FILE* pipe) const { pclose(pipe); }
};

std::string interpreter_of(Elf* elf)
{
  size_t count = 0;
  if (elf_getphdrnum(elf, &count) != 0) {
    return {};
  }
  size_t size = 0;
  const char* raw = elf_rawfile(elf, &size);
  for (size_t i = 0; i < count; ++i) {
    GElf_Phdr header;
    if (gelf_getphdr(elf, static_cast<int>(i), &header) != nullptr && header.p_type == PT_INTERP && raw &&
        header.p_offset + header.p_filesz <= size) {
      std::string path(raw + header.p_offset, header.p_filesz);
      return path.substr(0, path.find('\0'));
    }
  }
  return {};
}

/// DT_NEEDED entries, in link order.
std::vector<std::string> needed_of(Elf* elf, Elf_Scn* section, const GElf_Shdr& header)
{
  std::vector<std::string> needed;
  Elf_Data* data = elf_getdata(section, nullptr);
  size_t entries = header.sh_entsize ? header.sh_size / header.sh_entsize : 0;
  for (size_t i = 0; data && i < entries; ++i) {
    GElf_Dyn entry;
    if (gelf_getdyn(data, static_cast<int>(i), &entry) != nullptr && entry.d_tag == DT_NEEDED) {
      if (const char* name = elf_strptr(elf, header.sh_link, entry.d_un.d_val)) {
        needed.emplace_back(name);
      }
    }
  }
  return needed;
}

/// The symbol versions used per library (SHT_GNU_verneed).
std::map<std::string, std::vector<std::string>> versions_of(Elf* elf, Elf_Scn* section, const GElf_Shdr& header)
{
  std::map<std::string, std::vector<std::string>> versions;
  Elf_Data* data = elf_getdata(section, nullptr);
  size_t offset = 0;
  for (size_t n = 0; data && n < header.sh_info; ++n) { // sh_info: the number of entries
    GElf_Verneed need;
    if (gelf_getverneed(data, static_cast<int>(offset), &need) == nullptr) {
      break;
    }
    const char* file = elf_strptr(elf, header.sh_link, need.vn_file);
    size_t aux_offset = offset + need.vn_aux;
    for (unsigned j = 0; file && j < need.vn_cnt; ++j) {
      GElf_Vernaux aux;
      if (gelf_getvernaux(data, static_cast<int>(aux_offset), &aux) == nullptr) {
        break;
      }
      if (const char* name = elf_strptr(elf, header.sh_link, aux.vna_name)) {
        versions[file].emplace_back(name);
      }
      aux_offset += aux.vna_next;
    }
    if (need.vn_next == 0) {
      break;
    }
    offset += need.vn_next;
  }
  return versions;
}

} // namespace

Result<std::optional<ProgramNeeds>> read_program_needs(const std::filesystem::path& file)
{
  if (elf_version(EV_CURRENT) == EV_NONE) {
    return fail("libelf is unusable: " + std::string(elf_errmsg(-1)));
  }
  FileCloser fd{::open(file.c_str(), O_RDONLY | O_CLOEXEC)};
  if (fd.fd < 0) {
    return fail("cannot read " + file.string());
  }
  ElfHandle elf(elf_begin(fd.fd, ELF_C_READ_MMAP, nullptr));
  if (!elf || elf_kind(elf.get()) != ELF_K_ELF) {
    return std::optional<ProgramNeeds>{};
  }
  GElf_Ehdr header;
  if (gelf_getehdr(elf.get(), &header) == nullptr) {
    return fail(file.string() + ": not a readable ELF file: " + elf_errmsg(-1));
  }
  ProgramNeeds needs;
  needs.machine = header.e_machine;
  needs.interpreter = interpreter_of(elf.get());
  std::vector<std::string> needed;
  std::map<std::string, std::vector<std::string>> versions;
  std::size_t names = 0; // the section holding the sections' names
  bool has_names = elf_getshdrstrndx(elf.get(), &names) == 0;
  for (Elf_Scn* section = elf_nextscn(elf.get(), nullptr); section; section = elf_nextscn(elf.get(), section)) {
    GElf_Shdr section_header;
    if (gelf_getshdr(section, &section_header) == nullptr) {
      continue;
    }
    const char* name = has_names ? elf_strptr(elf.get(), names, section_header.sh_name) : nullptr;
    if (name && (std::string_view(name) == ".go.buildinfo" || std::string_view(name) == ".note.go.buildid")) {
      needs.go = true;
    }
    if (section_header.sh_type == SHT_DYNAMIC) {
      needed = needed_of(elf.get(), section, section_header);
    } else if (section_header.sh_type == SHT_GNU_verneed) {
      versions = versions_of(elf.get(), section, section_header);
    }
  }
  for (const auto& soname : needed) {
    needs.libraries.push_back({soname, versions[soname]});
  }
  return std::optional<ProgramNeeds>{std::move(needs)};
}

bool is_glibc_library(std::string_view soname)
{
  static const std::set<std::string_view> glibc = {
      "libc.so.6",      "libm.so.6",         "libpthread.so.0",   "libdl.so.2",      "librt.so.1",
      "libresolv.so.2", "libutil.so.1",      "libanl.so.1",       "libnsl.so.1",     "libBrokenLocale.so.1",
      "libmvec.so.1",   "libthread_db.so.1", "libnss_files.so.2", "libnss_dns.so.2", "linux-vdso.so.1",
      "linux-gate.so.1"};
  return glibc.count(soname) != 0 || soname.starts_with("ld-linux") || soname.starts_with("ld64.so");
}

namespace {

/// ldd's text for `program`: it finds the libraries as the loader would (RUNPATH, the
/// cache, the default folders), indirect ones included. The program is the user's own build.
Result<std::string> ldd_text(const std::filesystem::path& program)
{
  std::string command = "ldd " + shell_quote(program.string()) + " 2>&1";
  std::unique_ptr<FILE, PipeCloser> pipe(popen(command.c_str(), "r"));
  if (!pipe) {
    return fail("cannot run ldd on " + program.string());
  }
  std::string text;
  std::array<char, 4096> buffer{};
  while (size_t n = std::fread(buffer.data(), 1, buffer.size(), pipe.get())) {
    text.append(buffer.data(), n);
  }
  return text;
}

/// The "<soname> => <path>" lines of ldd, glibc's own libraries left out unless `with_glibc`.
Result<std::vector<BundledLibrary>> ldd_libraries(const std::filesystem::path& program, bool with_glibc)
{
  CD_TRY(text, ldd_text(program));
  std::vector<BundledLibrary> libraries;
  std::istringstream lines(*text);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream words(line);
    std::string soname, arrow, path;
    words >> soname >> arrow >> path;
    if (arrow != "=>" || (!with_glibc && is_glibc_library(soname))) {
      continue;
    }
    if (path == "not") {
      return fail(program.string() + " needs " + soname + ", which the controller cannot find either (BUNDLE_LIBS)");
    }
    std::error_code ec;
    auto local = std::filesystem::canonical(path, ec);
    if (ec) {
      return fail(program.string() + " needs " + soname + " from " + path + ": " + ec.message() + " (BUNDLE_LIBS)");
    }
    libraries.push_back({soname, local});
  }
  return libraries;
}

} // namespace

Result<std::vector<BundledLibrary>> libraries_to_bundle(const std::filesystem::path& program)
{
  return ldd_libraries(program, false);
}

Result<std::vector<BundledLibrary>> closure_to_bundle(const std::filesystem::path& program)
{
  CD_TRY(needs, read_program_needs(program));
  if (!*needs || (*needs)->interpreter.empty()) {
    return std::vector<BundledLibrary>{}; // a script or a static program: nothing to ship, it runs as it is
  }
  std::filesystem::path interpreter = (*needs)->interpreter;
  std::error_code ec;
  auto loader = std::filesystem::canonical(interpreter, ec);
  if (ec) {
    return fail(program.string() + " needs the loader " + interpreter.string() + ": " + ec.message() +
                " (BUNDLE_LIBS ALL)");
  }
  CD_TRY(libraries, ldd_libraries(program, true));
  libraries->push_back({interpreter.filename().string(), loader, true});
  return std::move(*libraries);
}

} // namespace deploy
