#include "health.hpp"

#include <catch2/catch.hpp>

using namespace deploy;

TEST_CASE("http health accepts 2xx only")
{
  CHECK(http_status_ok("HTTP/1.0 200 OK\r\n\r\n"));
  CHECK(http_status_ok("HTTP/1.1 204 No Content\r\n"));
  CHECK_FALSE(http_status_ok("HTTP/1.1 503 Service Unavailable\r\n"));
  CHECK_FALSE(http_status_ok("SSH-2.0-OpenSSH_9.2"));
  CHECK_FALSE(http_status_ok(""));
}
