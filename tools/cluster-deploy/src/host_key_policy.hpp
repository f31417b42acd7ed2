// What to do with a node's host key that known_hosts does not have (HOST_KEY_POLICY): a
// setting of the plan that the transport applies.
#pragma once

namespace deploy {

/// How to reach one node: strict (the key must be known) or accept-new (a new node's key is
/// recorded on first contact; a changed one is still refused).
enum class HostKeyPolicy { strict, accept_new };

} // namespace deploy
