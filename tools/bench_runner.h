#ifndef TOOLS_BENCH_RUNNER_H_
#define TOOLS_BENCH_RUNNER_H_

// BenchRunner: one benchmark cell = start a server process on a free port,
// drive it with the load generator (in this process), record its peak RSS
// and thread count while loaded, stop it. Shared by //tools:tune (pool sizes)
// and //tools:compare (this server against its peers), so both measure the
// same way.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "client/load_generator.h"
#include "common/subprocess.h"

namespace tools {

// A server to benchmark: argv in which "{port_file}" is replaced by a fresh
// port-file path the server must write its port to.
struct ServerSpec {
  std::string name;
  std::vector<std::string> argv;
};

// A running server process, stopped (SIGTERM, then SIGKILL) on Stop() or
// destruction.
struct RunningServer {
  std::unique_ptr<common::Subprocess> process;
  int port = 0;
  std::string port_file;
  void Stop();
  ~RunningServer() { Stop(); }
};

// Starts `server` and waits (up to 20 s) for its port file.
absl::StatusOr<std::unique_ptr<RunningServer>> StartServer(const ServerSpec& server);

struct CellResult {
  client::LoadReport load;
  int64_t peak_rss_bytes = -1;  // server VmHWM at the end of the load
  int64_t max_threads = -1;     // most server threads seen while loaded
  double server_cpu_seconds = 0;
};

// Runs one cell. `load.host`/`load.port` are filled in here.
absl::StatusOr<CellResult> RunCell(const ServerSpec& server, client::LoadOptions load);

// Splits "1,2,4" into integers; error names `flag`.
absl::StatusOr<std::vector<int>> ParseIntList(const std::string& flag, const std::string& text);

// The server binary in runfiles (works under both `bazel run` and tests).
std::string ServerBinary();

// Where results go: relative paths resolve against the directory `bazel run`
// was started from.
std::string OutputPath(const std::string& path);

std::string FormatMiB(int64_t bytes);

}  // namespace tools

#endif  // TOOLS_BENCH_RUNNER_H_
