#include "ssh_config_warnings.hpp"

#include <catch2/catch.hpp>

using namespace deploy;

TEST_CASE("libssh's messages about ignored ssh_config options are recognised")
{
  auto unsupported = parse_libssh_config_message("ssh_config_parse_line: Unsupported option: IdentitiesOnly, line: 12");
  REQUIRE(unsupported);
  CHECK(unsupported->name == "IdentitiesOnly");
  CHECK(unsupported->line == 12);
  CHECK(unsupported->applicable);
  auto unapplicable = parse_libssh_config_message("ssh_config_parse_line: Unapplicable option: ControlMaster, line: 3");
  REQUIRE(unapplicable);
  CHECK_FALSE(unapplicable->applicable);
  CHECK_FALSE(parse_libssh_config_message("ssh_config_parse_file: Reading configuration data from x"));
  CHECK_FALSE(parse_libssh_config_message("Unsupported option: , line: 1"));
}

TEST_CASE("the warning names the file, the line and what happens instead")
{
  CHECK(ignored_option_warning({"IdentitiesOnly", 2, true}, "/p/ssh_config") ==
        "ssh_config: IdentitiesOnly at /p/ssh_config (or a file it includes), line 2 is ignored (libssh 0.10 does "
        "not support it): every key in ssh-agent is offered before the IdentityFile keys, so a server's MaxAuthTries "
        "can refuse the login before the right key; keep fewer keys in the agent or unset SSH_AUTH_SOCK");
  CHECK(ignored_option_warning({"VisualHostKey", 7, true}, "") ==
        "ssh_config: VisualHostKey at ~/.ssh/config (or a file it includes), line 7 is ignored (libssh 0.10 does not "
        "support it)");
}
