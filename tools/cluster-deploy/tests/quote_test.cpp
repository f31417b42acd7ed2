#include "quote.hpp"

#include <catch2/catch.hpp>

using namespace deploy;

TEST_CASE("shell_quote keeps every word one argument")
{
  CHECK(shell_quote("plain") == "'plain'");
  CHECK(shell_quote("") == "''");
  CHECK(shell_quote("it's") == "'it'\\''s'");
  CHECK(shell_quote(";touch /tmp/x") == "';touch /tmp/x'");
  CHECK(shell_quote("$(reboot)") == "'$(reboot)'");
  CHECK(shell_join({"echo", "a b", "c;d"}) == "'echo' 'a b' 'c;d'");
}

TEST_CASE("systemd_quote disables splitting and $ and % expansion")
{
  CHECK(systemd_quote("--port=1") == "\"--port=1\"");
  CHECK(systemd_quote("a b") == "\"a b\"");
  CHECK(systemd_quote("100%") == "\"100%%\"");
  CHECK(systemd_quote("$HOME") == "\"$$HOME\"");
  CHECK(systemd_quote("say \"hi\"\\") == "\"say \\\"hi\\\"\\\\\"");
}

TEST_CASE("is_safe_name accepts only names usable in paths and unit names")
{
  CHECK(is_safe_name("server-1.a_b"));
  CHECK_FALSE(is_safe_name(""));
  CHECK_FALSE(is_safe_name("-rf"));
  CHECK_FALSE(is_safe_name(".hidden"));
  CHECK_FALSE(is_safe_name("a/b"));
  CHECK_FALSE(is_safe_name("a;b"));
  CHECK_FALSE(is_safe_name("a b"));
}

TEST_CASE("Environment= values keep $ and escape % and quotes")
{
  CHECK(systemd_env_quote("PASSWORD=a$b%c\"d") == "\"PASSWORD=a$b%%c\\\"d\"");
}
