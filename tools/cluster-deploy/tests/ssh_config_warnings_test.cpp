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

TEST_CASE("IdentitiesOnly is looked up for the host as OpenSSH does")
{
  const char* config = "# global\n"
                       "Host db-* !db-legacy\n"
                       "  IdentitiesOnly yes\n"
                       "Host *.example.org\n"
                       "  IdentitiesOnly=no\n"
                       "Match exec \"true\"\n"
                       "  IdentitiesOnly yes\n"
                       "Host *\n"
                       "  IdentitiesOnly yes\n";
  CHECK(identities_only_for(config, "db-1") == true);
  CHECK(identities_only_for(config, "DB-2") == true);             // host patterns ignore case
  CHECK(identities_only_for(config, "db-legacy") == true);        // excluded from the first block; Host * says yes
  CHECK(identities_only_for(config, "web.example.org") == false); // the first value that applies wins
  CHECK(identities_only_for("Host a\n IdentitiesOnly yes\n", "b") == std::nullopt);
  CHECK(identities_only_for("IdentitiesOnly yes\nHost a\n", "b") == true); // before any Host: every host
  CHECK(identities_only_for("Match all\n  IdentitiesOnly yes\n", "b") == true);
}

TEST_CASE("an IdentitiesOnly line of the config itself is handled, one in an included file is not")
{
  const char* config = "Host *\n  IdentitiesOnly yes\n  ServerAliveInterval 3\n";
  CHECK(handled_by_helper({"IdentitiesOnly", 2, true}, config));
  CHECK_FALSE(handled_by_helper({"IdentitiesOnly", 3, true}, config)); // line 3 of an included file
  CHECK_FALSE(handled_by_helper({"ServerAliveInterval", 3, true}, config));
}

TEST_CASE("a ProxyJump's ssh reads the same ssh_config as the helper")
{
  CHECK(proxy_jump_with_config("ssh -W '[%h]:%p' server1", "/b/local-cluster/ssh_config") ==
        "ssh -F '/b/local-cluster/ssh_config' -W '[%h]:%p' server1");
  CHECK(proxy_jump_with_config("ssh -l deploy -p 2222 -W '[%h]:%p' j1", "/it's/cfg") ==
        "ssh -F '/it'\\''s/cfg' -l deploy -p 2222 -W '[%h]:%p' j1");
  CHECK(proxy_jump_with_config("ssh -W '[%h]:%p' j1", "") == "ssh -W '[%h]:%p' j1"); // ~/.ssh/config anyway
  CHECK(proxy_jump_with_config("nc -X connect %h %p", "/cfg") == "nc -X connect %h %p");
  CHECK(proxy_jump_with_config("ssh -F /other -W '[%h]:%p' j1", "/cfg") == "ssh -F /other -W '[%h]:%p' j1");
}
