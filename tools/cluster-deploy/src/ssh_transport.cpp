// LibsshTransport: maps the Transport calls onto ssh_channel's recipes.
#include "ssh_transport.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace deploy {

using namespace ssh_detail;

namespace {

constexpr std::size_t k_max_streaming_stderr = 4096;

} // namespace

LibsshTransport::LibsshTransport(SessionPtr session, std::string host)
    : m_session(std::move(session)), m_host(std::move(host))
{
}

Result<ExecResult> LibsshTransport::exec(const std::string& command, std::string_view stdin_data, Seconds timeout)
{
  return collect(command, {InputPart{stdin_data}}, timeout);
}

Result<ExecResult> LibsshTransport::exec_with_input(const std::string& command, const std::vector<InputPart>& input,
                                                    Seconds timeout)
{
  return collect(command, input, timeout);
}

Result<ExecResult> LibsshTransport::collect(const std::string& command, const std::vector<InputPart>& input,
                                            Seconds timeout)
{
  ExecResult result;
  const OutputFn output = [&](std::string_view chunk, bool is_stderr) {
    (is_stderr ? result.err : result.out).append(chunk);
    return true;
  };
  auto end = exec_command(m_session.get(), m_host, command, input, output, timeout);
  if (!end) {
    return fail(end.error());
  }
  result.exit_status = end->exit.status;
  result.exit_signal = end->exit.signal;
  return result;
}

Result<int> LibsshTransport::exec_streaming(const std::string& command, const ChunkSink& sink, Seconds timeout)
{
  std::string err;
  const OutputFn output = [&](std::string_view chunk, bool is_stderr) {
    if (is_stderr) {
      err.append(chunk.substr(0, k_max_streaming_stderr - std::min(err.size(), k_max_streaming_stderr)));
      return true;
    }
    return sink(chunk);
  };
  auto end = exec_command(m_session.get(), m_host, command, {}, output, timeout);
  if (!err.empty()) {
    spdlog::debug("{}: stderr of streaming command: {}", m_host, err);
  }
  if (!end) {
    return fail(end.error());
  }
  return end->stopped ? -1 : end->exit.status;
}

Result<std::string> LibsshTransport::tcp_request(int port, std::string_view request, Seconds timeout)
{
  return tcp_exchange(m_session.get(), m_host, port, request, timeout);
}

Result<std::unique_ptr<Transport>> connect_ssh(const ConnectOptions& options)
{
  auto session = connect_session(options);
  if (!session) {
    return fail(session.error());
  }
  return std::unique_ptr<Transport>(std::make_unique<LibsshTransport>(std::move(*session), options.host));
}

} // namespace deploy
