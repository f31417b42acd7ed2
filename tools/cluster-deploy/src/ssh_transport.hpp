// LibsshTransport: the Transport over libssh 0.10. One authenticated session
// (ssh_session.hpp) per node and worker thread; each call runs on a channel of it
// (ssh_channel.hpp, which also holds the timeout rule). Made by connect_ssh().
#pragma once

#include "ssh_channel.hpp"
#include "transport.hpp"

namespace deploy {

class LibsshTransport final : public Transport {
public:
  LibsshTransport(ssh_detail::SessionPtr session, std::string host);

  Result<ExecResult> exec(const std::string& command, std::string_view stdin_data, Seconds timeout) override;
  Result<ExecResult> exec_with_input(const std::string& command, const std::vector<InputPart>& input,
                                     Seconds timeout) override;
  Result<int> exec_streaming(const std::string& command, const ChunkSink& sink, Seconds timeout) override;
  Result<std::string> tcp_request(int port, std::string_view request, Seconds timeout) override;

private:
  Result<ExecResult> collect(const std::string& command, const std::vector<InputPart>& input, Seconds timeout);

  ssh_detail::SessionPtr m_session;
  std::string m_host;
};

} // namespace deploy
