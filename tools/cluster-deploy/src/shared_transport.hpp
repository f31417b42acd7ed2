// A Transport two threads may share: one call at a time. A run's steps use a node's
// session from one worker thread at a time, and the lock's renewer (cluster_lock.cpp)
// uses it in between, so every session of a Cluster is one of these.
#pragma once

#include "transport.hpp"

#include <memory>
#include <mutex>

namespace deploy {

class SharedTransport : public Transport {
public:
  explicit SharedTransport(std::unique_ptr<Transport> inner) : m_inner(std::move(inner)) {}

  Result<ExecResult> exec(const std::string& command, std::string_view stdin_data, Seconds timeout) override
  {
    std::lock_guard lock(m_mutex);
    return m_inner->exec(command, stdin_data, timeout);
  }
  Result<ExecResult> exec_with_input(const std::string& command, const std::vector<InputPart>& input,
                                     Seconds timeout) override
  {
    std::lock_guard lock(m_mutex);
    return m_inner->exec_with_input(command, input, timeout);
  }
  Result<int> exec_streaming(const std::string& command, const ChunkSink& sink, Seconds timeout) override
  {
    std::lock_guard lock(m_mutex);
    return m_inner->exec_streaming(command, sink, timeout);
  }
  Result<std::string> tcp_request(int port, std::string_view request, Seconds timeout) override
  {
    std::lock_guard lock(m_mutex);
    return m_inner->tcp_request(port, request, timeout);
  }

  /// True while a call is under way (a step of the run is using the session).
  bool busy()
  {
    if (!m_mutex.try_lock()) {
      return true;
    }
    m_mutex.unlock();
    return false;
  }

private:
  std::mutex m_mutex;
  std::unique_ptr<Transport> m_inner;
};

} // namespace deploy
