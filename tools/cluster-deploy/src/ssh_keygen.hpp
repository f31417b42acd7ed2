// A key pair made here for one deploy's fan-out (fan_out.hpp): the nodes use it to pass
// files on to each other, and it is removed from them when the deploy's staging ends.
// libssh is included only by the ssh_* files.
#pragma once

#include "error.hpp"

#include <string>

namespace deploy {

struct KeyPair {
  std::string private_key; ///< OpenSSH private key file text; a secret: never in argv or logs
  std::string public_key;  ///< "ssh-ed25519 AAAA..." (an authorized_keys line without options)
};

/// A new Ed25519 key pair, kept in memory only.
Result<KeyPair> generate_key_pair();

} // namespace deploy
