#include "ssh_keygen.hpp"

#include <libssh/libssh.h>

#include <memory>

namespace deploy {
namespace {

struct KeyDeleter {
  void operator()(ssh_key key) const { ssh_key_free(key); }
};
struct CharDeleter {
  void operator()(char* text) const { ssh_string_free_char(text); }
};

} // namespace

Result<KeyPair> generate_key_pair()
{
  ssh_key raw = nullptr;
  if (ssh_pki_generate(SSH_KEYTYPE_ED25519, 0, &raw) != SSH_OK) {
    return fail("could not generate the fan-out's Ed25519 key");
  }
  std::unique_ptr<ssh_key_struct, KeyDeleter> key(raw);
  char* private_text = nullptr;
  char* public_text = nullptr;
  if (ssh_pki_export_privkey_base64(key.get(), nullptr, nullptr, nullptr, &private_text) != SSH_OK) {
    return fail("could not export the fan-out's private key");
  }
  std::unique_ptr<char, CharDeleter> private_owner(private_text);
  if (ssh_pki_export_pubkey_base64(key.get(), &public_text) != SSH_OK) {
    return fail("could not export the fan-out's public key");
  }
  std::unique_ptr<char, CharDeleter> public_owner(public_text);
  KeyPair pair;
  pair.private_key = private_text;
  if (!pair.private_key.ends_with('\n')) {
    pair.private_key += '\n';
  }
  pair.public_key = std::string(ssh_key_type_to_char(ssh_key_type(key.get()))) + " " + public_text;
  return pair;
}

} // namespace deploy
