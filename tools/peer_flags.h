#ifndef TOOLS_PEER_FLAGS_H_
#define TOOLS_PEER_FLAGS_H_

// The command-line flags that say where the peer servers' interpreters,
// toolchains and sources are (--python, --node, --go, --cxx, --asio_source,
// --peer_cache_dir), defined once for every benchmark that starts peers
// (//tools:compare, //tools:capacity), with Debian's paths as defaults.
//
// Thread safety: read the flags after gflags parsed them, from one thread.

#include "tools/peer_servers.h"

namespace tools {

PeerOptions PeerOptionsFromFlags();

}  // namespace tools

#endif  // TOOLS_PEER_FLAGS_H_
