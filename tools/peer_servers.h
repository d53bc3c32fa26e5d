#ifndef TOOLS_PEER_SERVERS_H_
#define TOOLS_PEER_SERVERS_H_

// PeerServers: the servers //tools:compare measures, by the names its
// --servers flag takes, as ServerSpecs for tools::RunCell():
//  * asio: Boost.Asio's cpp11 async_tcp_echo_server example, as Debian's
//    libboost1.81-doc ships it, compiled here with the system compiler;
//  * go: tools/peers/go_echo.go (a Go `net` echo), built here with `go build`;
//  * uvloop, node, tutorial: the scripts in tools/peers/ (line protocol);
//  * default, workers64, classic, raw, epoll, raw_epoll: this server,
//    each with a fixed argv
//    suffix (so the catalogue does not depend on which flags the server
//    has: a row whose flag it lacks fails to start, visibly).
// asio and go are plain echoes (no welcome, no prefix) and are driven raw.
//
// The compiled peers are built at run time, not by Bazel: they need
// toolchains outside the Bazel build (g++ with Boost, Go) that a user of the
// server would use. Each binary is cached in `cache_dir` under a name keyed
// by its source's mtime, so later runs reuse it; a build writes a temp file
// and renames it, so concurrent runs never execute a half-written binary.
//
// Thread safety: PeerServer() may run compilers and blocks until they end;
// call it from one thread at a time (two processes sharing a cache are fine).

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "tools/bench_runner.h"

namespace tools {

// Where the peers' interpreters, toolchains and sources are (the flags in
// tools/peer_flags.h hold the Debian defaults).
struct PeerOptions {
  std::string python;  // with python3-uvloop
  std::string node;
  std::string go;           // Debian's golang-go
  std::string cxx;          // builds asio, with libboost1.81-dev's headers
  std::string asio_source;  // libboost1.81-doc's cpp11 async_tcp_echo_server.cpp
  std::string cache_dir;    // built peers
};

// Every name PeerServer() knows (for error messages).
std::vector<std::string> PeerServerNames();

// The spec for `name`, building asio or go first if their cached binary is
// missing. NotFound for an unknown name; FailedPrecondition naming the
// Debian package to install when a toolchain or source is missing; Internal
// with the compiler's output when a build fails.
absl::StatusOr<ServerSpec> PeerServer(const std::string& name, const PeerOptions& options);

}  // namespace tools

#endif  // TOOLS_PEER_SERVERS_H_
