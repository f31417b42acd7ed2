// Errors as values at the leaves, one exception type at the top.
#pragma once

#include <stdexcept>
#include <string>
#include <utility>
#include <variant>

namespace deploy {

/// A failure explained in one line, lower-case, naming the file:line or node.
struct Failure {
  std::string message;
};

/// The one exception type: thrown by orchestration code, caught only in run().
/// `exit_code` is 2 for usage/configuration errors and 1 for failures on nodes.
class Error : public std::runtime_error {
public:
  explicit Error(const std::string& what, int exit_code = 2) : std::runtime_error(what), m_exit_code(exit_code) {}
  int exit_code() const { return m_exit_code; }

private:
  int m_exit_code;
};

/// Result<T>: a value or a Failure (a small std::expected for C++20).
template <typename T>
class [[nodiscard]] Result {
public:
  Result(T value) : m_state(std::in_place_index<0>, std::move(value)) {}
  Result(Failure failure) : m_state(std::in_place_index<1>, std::move(failure)) {}

  bool ok() const { return m_state.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(m_state); }
  const T& value() const& { return std::get<0>(m_state); }
  T&& value() && { return std::get<0>(std::move(m_state)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const std::string& error() const { return std::get<1>(m_state).message; }
  /// The value, or throws Error with the failure's message.
  T value_or_throw(int exit_code = 2) &&
  {
    if (!ok()) {
      throw Error(error(), exit_code);
    }
    return std::get<0>(std::move(m_state));
  }

private:
  std::variant<T, Failure> m_state;
};

/// Result<void>: success or a Failure.
template <>
class [[nodiscard]] Result<void> {
public:
  Result() = default;
  Result(Failure failure) : m_failure(std::move(failure.message)), m_ok(false) {}
  bool ok() const { return m_ok; }
  explicit operator bool() const { return m_ok; }
  const std::string& error() const { return m_failure; }
  void value_or_throw(int exit_code = 2) const
  {
    if (!m_ok) {
      throw Error(m_failure, exit_code);
    }
  }

private:
  std::string m_failure;
  bool m_ok = true;
};

inline Failure fail(std::string message)
{
  return Failure{std::move(message)};
}

} // namespace deploy

/// Error propagation at the leaves: `CD_TRY(text, read_text(path));` declares `text`
/// as the Result and returns its failure from the enclosing function (which returns a
/// Result of any type); `CD_TRY_VOID(write_file(path, text));` does the same for a
/// Result whose value is not needed.
#define CD_TRY(name, ...)                                                                                              \
  auto name = (__VA_ARGS__);                                                                                           \
  if (!name)                                                                                                           \
  return ::deploy::fail(name.error())
#define CD_TRY_VOID(...)                                                                                               \
  if (auto cd_try_result_ = (__VA_ARGS__); !cd_try_result_)                                                            \
  return ::deploy::fail(cd_try_result_.error())
