#include "tools/peer_servers.h"

#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <optional>
#include <system_error>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/socket.h"
#include "common/subprocess.h"

namespace tools {
namespace {

// Our server's rows: a name, the flags appended to the common argv, and
// how the table names the row (empty: "ours, " + the flags).
struct OursRow {
  const char* name;
  std::vector<std::string> flags;
  bool raw;
  const char* label = "";
};

const std::vector<OursRow>& OursRows() {
  static const auto* rows = new std::vector<OursRow>{
      {"default", {}, false},
      {"workers64", {"--workers=64"}, false},
      {"classic", {"--model=classic", "--workers=64"}, false},
      {"raw", {"--framing=raw"}, true},
      // The event model on epoll instead of the default io_uring (--io).
      {"epoll", {"--io=epoll"}, false, "ours, --io=epoll"},
      {"raw_epoll", {"--framing=raw", "--io=epoll"}, true, "ours, raw, --io=epoll"},
      // Default flags plus the metrics endpoint (scraped or not, it must not
      // slow the hot path).
      {"metrics", {"--metrics_port_file={port_file}.metrics"}, false,
       "ours, metrics endpoint on"},
  };
  return *rows;
}

bool Exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

// The last `n` bytes of a compiler's output: the error is at the end.
std::string Tail(const std::string& text, size_t n) {
  const std::string trimmed(absl::StripAsciiWhitespace(text));
  return trimmed.size() <= n ? trimmed : absl::StrCat("...", trimmed.substr(trimmed.size() - n));
}

// `cache_dir`/`stem`-<mtime of source>; runs `build` (argv, with "{out}" for
// the output path) only if that file is missing.
absl::StatusOr<std::string> CachedBuild(const std::string& peer, const std::string& source,
                                        const std::string& stem,
                                        const std::vector<std::string>& build,
                                        const PeerOptions& options) {
  struct stat st{};
  if (::stat(source.c_str(), &st) != 0) {
    return common::ErrnoStatus(errno, absl::StrCat(peer, ": stat ", source));
  }
  const std::string binary =
      absl::StrCat(options.cache_dir, "/", stem, "-", st.st_mtim.tv_sec, ".", st.st_mtim.tv_nsec);
  if (Exists(binary)) return binary;
  std::error_code error;
  std::filesystem::create_directories(options.cache_dir, error);
  if (error) {
    return absl::InternalError(
        absl::StrCat(peer, ": cannot create ", options.cache_dir, ": ", error.message()));
  }
  const std::string out = absl::StrCat(binary, ".tmp.", ::getpid());
  std::vector<std::string> args;
  for (size_t i = 1; i < build.size(); ++i) args.push_back(build[i] == "{out}" ? out : build[i]);
  std::fprintf(stderr, "compare: building %s: %s\n", peer.c_str(),
               absl::StrJoin(build, " ").c_str());
  common::Subprocess compiler(build[0], args);
  const std::optional<int> exit = compiler.Wait(absl::Minutes(15));
  if (exit != 0) {
    std::remove(out.c_str());
    return absl::InternalError(absl::StrCat(
        peer, ": build ",
        exit.has_value() ? absl::StrCat("failed (exit status ", *exit, ")") : "timed out", ": ",
        Tail(compiler.Stderr() + compiler.Stdout(), 2000)));
  }
  if (std::rename(out.c_str(), binary.c_str()) != 0) {
    const int err = errno;
    std::remove(out.c_str());
    return common::ErrnoStatus(err, absl::StrCat(peer, ": rename to ", binary));
  }
  return binary;
}

absl::StatusOr<std::string> BuildAsio(const PeerOptions& options) {
  if (!Exists(options.asio_source)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "asio: ", options.asio_source,
        " is missing: install Debian's libboost1.81-doc (apt-get install libboost1.81-doc)"));
  }
  if (!Exists(options.cxx)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "asio: no compiler at ", options.cxx, ": install Debian's g++ (apt-get install g++)"));
  }
  if (!Exists("/usr/include/boost/asio.hpp")) {
    return absl::FailedPreconditionError(
        "asio: /usr/include/boost/asio.hpp is missing: install Debian's libboost1.81-dev "
        "(apt-get install libboost1.81-dev)");
  }
  return CachedBuild(
      "asio", options.asio_source, "asio_echo",
      {options.cxx, "-O2", "-std=c++17", "-pthread", options.asio_source, "-o", "{out}"}, options);
}

absl::StatusOr<std::string> BuildGo(const PeerOptions& options) {
  const std::string source = common::Runfile("tools/peers/go_echo.go");
  if (!Exists(options.go)) {
    return absl::FailedPreconditionError(
        absl::StrCat("go: no Go toolchain at ", options.go,
                     ": install Debian's golang-go (apt-get install golang-go)"));
  }
  // One file importing only the standard library: GOPATH mode, no module,
  // nothing fetched. The build cache goes under the peers' cache, not $HOME.
  const std::string go_dir = absl::StrCat(options.cache_dir, "/go");
  return CachedBuild("go", source, "go_echo",
                     {"/usr/bin/env", absl::StrCat("GOCACHE=", go_dir, "/cache"),
                      absl::StrCat("GOPATH=", go_dir, "/path"), "GO111MODULE=off", "GOFLAGS=",
                      absl::StrCat("HOME=", go_dir), options.go, "build", "-o", "{out}", source},
                     options);
}

}  // namespace

std::vector<std::string> PeerServerNames() {
  std::vector<std::string> names = {"asio", "go"};
  for (const OursRow& row : OursRows()) names.push_back(row.name);
  for (const char* name : {"uvloop", "node", "tutorial"}) names.push_back(name);
  return names;
}

absl::StatusOr<ServerSpec> PeerServer(const std::string& name, const PeerOptions& options) {
  ServerSpec spec;
  spec.name = name;
  if (name == "asio") {
    auto binary = BuildAsio(options);
    if (!binary.ok()) return binary.status();
    spec.argv = {*binary, "{port}"};
    spec.raw = true;
  } else if (name == "go") {
    auto binary = BuildGo(options);
    if (!binary.ok()) return binary.status();
    spec.argv = {*binary, "{port_file}"};
    spec.raw = true;
  } else if (name == "tutorial") {
    spec.argv = {options.python, common::Runfile("tools/peers/tutorial_server.py"), "{port_file}"};
  } else if (name == "node") {
    spec.argv = {options.node, common::Runfile("tools/peers/node_echo.js"), "{port_file}"};
  } else if (name == "uvloop") {
    spec.argv = {options.python, common::Runfile("tools/peers/uvloop_echo.py"), "{port_file}"};
  } else {
    for (const OursRow& row : OursRows()) {
      if (name != row.name) continue;
      spec.name = *row.label != '\0'   ? row.label
                  : row.flags.empty() ? "ours, default flags"
                                      : absl::StrCat("ours, ", absl::StrJoin(row.flags, " "));
      spec.argv = {ServerBinary(),          "--port=0",        "--port_file={port_file}",
                   "--stats_interval_ms=0", "--minloglevel=1", "--queue_capacity=1024"};
      spec.argv.insert(spec.argv.end(), row.flags.begin(), row.flags.end());
      spec.raw = row.raw;
      return spec;
    }
    return absl::NotFoundError(absl::StrCat(
        "unknown server '", name, "' (known: ", absl::StrJoin(PeerServerNames(), ","), ")"));
  }
  return spec;
}

}  // namespace tools
