#include "tools/peer_flags.h"

#include "gflags/gflags.h"

DEFINE_string(python, "/usr/bin/python3", "Debian's python3 (it has python3-uvloop).");
DEFINE_string(node, "/usr/bin/node", "Node.js.");
DEFINE_string(go, "/usr/bin/go", "Go toolchain that builds the 'go' peer (golang-go).");
DEFINE_string(cxx, "/usr/bin/g++", "C++ compiler that builds the 'asio' peer.");
DEFINE_string(asio_source,
              "/usr/share/doc/libboost1.81-doc/examples/libs/asio/example/cpp11/echo/"
              "async_tcp_echo_server.cpp",
              "Boost.Asio's echo example (libboost1.81-doc).");
DEFINE_string(peer_cache_dir, "/tmp/compare_peers",
              "Where the built asio and go peers are cached (keyed by source mtime).");

namespace tools {

PeerOptions PeerOptionsFromFlags() {
  PeerOptions options;
  options.python = FLAGS_python;
  options.node = FLAGS_node;
  options.go = FLAGS_go;
  options.cxx = FLAGS_cxx;
  options.asio_source = FLAGS_asio_source;
  options.cache_dir = FLAGS_peer_cache_dir;
  return options;
}

}  // namespace tools
