#ifndef TOOLS_BENCH_RUNNER_H_
#define TOOLS_BENCH_RUNNER_H_

// BenchRunner: one benchmark cell = start a server process on a free port,
// drive it with the load generator (in this process), record its peak RSS,
// thread count and CPU time while loaded, stop it. Shared by //tools:tune
// (pool sizes) and //tools:compare (this server against its peers), so both
// measure the same way. Also pins this process to one CPU, so a benchmark can
// keep the load generator off the server's core.
//
// Thread safety: the functions are independent and may be called from any
// thread; RunCell() starts and joins its own sampler thread. PinThisProcess()
// moves the threads that exist when it runs (a thread being started at that
// moment may escape), so call it from main() before starting any.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "client/load_generator.h"
#include "common/subprocess.h"

namespace tools {

// A server to benchmark. In argv, "{port_file}" becomes a fresh port-file
// path the server writes its port to once it serves. A server that has no
// port file takes "{port}" instead: a port found free just before the start
// (bound and released, so another process could take it in between), and the
// server counts as started once a connection to it succeeds.
struct ServerSpec {
  std::string name;
  std::vector<std::string> argv;
  // A plain echo (no welcome line, no reply prefix): RunCell() drives it in
  // the load generator's raw mode.
  bool raw = false;
  // >= 0: the server process runs on this CPU only (SubprocessOptions::cpu).
  int cpu = -1;
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

// Starts `server` and waits (up to 20 s) for its port file or, for a
// "{port}" server, for it to accept a connection. Unavailable, with the exit
// status (or what it waited for) and the server's stderr, if it exits first
// or the wait times out.
absl::StatusOr<std::unique_ptr<RunningServer>> StartServer(const ServerSpec& server);

struct CellResult {
  client::LoadReport load;
  int64_t peak_rss_bytes = -1;    // server VmHWM at the end of the load
  int64_t max_threads = -1;       // most server threads seen while loaded
  double server_cpu_seconds = 0;  // user+system during the load, start-up excluded

  // Server CPU per round trip (per connection in connect mode); 0 if none.
  double ServerCpuMicrosPerRoundTrip() const;
};

// Runs one cell: closed loop, or open loop (client/open_loop.h) when
// `load.rate` > 0. `load.host`/`load.port` (and `load.raw` for a raw server)
// are filled in here.
absl::StatusOr<CellResult> RunCell(const ServerSpec& server, client::LoadOptions load);

// Splits "1,2,4" into integers; error names `flag`.
absl::StatusOr<std::vector<int>> ParseIntList(const std::string& flag, const std::string& text);

// The server binary in runfiles (works under both `bazel run` and tests).
std::string ServerBinary();

// Where results go: relative paths resolve against the directory `bazel run`
// was started from.
std::string OutputPath(const std::string& path);

std::string FormatMiB(int64_t bytes);

// The CPUs this process may run on (its affinity mask), ascending.
std::vector<int> AllowedCpus();

// Restricts this process to `cpu`: every thread it has now, and so every
// thread those start later.
absl::Status PinThisProcess(int cpu);

}  // namespace tools

#endif  // TOOLS_BENCH_RUNNER_H_
