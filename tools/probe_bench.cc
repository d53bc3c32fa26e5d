// //tools:probe_bench: how long the metrics port's probes take while idle
// TCP connections are held on it.
//
//   bazel run //tools:probe_bench -- --idle=0,8,64,1000
//   bazel run //tools:probe_bench -- --server=/path/to/other/server --idle=64
//
// Starts the real server with the metrics endpoint on a free port. For each
// --idle count N and each path (/healthz, /readyz, /metrics): opens N
// connections to the metrics port (every other one sends a partial request
// line, the rest nothing) and keeps them open, then times --requests
// sequential requests, each on a fresh connection with "Connection: close",
// from connect to EOF. The idle set is opened afresh for each path, so each
// path's first request meets all N. A request that takes longer than
// --timeout_ms counts as a timeout and ends that path's row early. Prints
// one row per (N, path): answered, timeouts, p50, p99 and max in ms.

#include <sys/socket.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/fd_limit.h"
#include "common/port_file.h"
#include "common/process_init.h"
#include "common/socket.h"
#include "common/subprocess.h"
#include "common/unique_fd.h"
#include "gflags/gflags.h"
#include "tools/bench_runner.h"

DEFINE_string(server, "", "Server binary to measure (default: this workspace's //server).");
DEFINE_string(idle, "0,8,64,1000", "Idle connection counts, comma-separated.");
DEFINE_int32(requests, 20, "Timed requests per (idle count, path).");
DEFINE_int64(timeout_ms, 30000, "A request not answered within this long is a timeout.");

namespace {

// Holds `count` connections to the metrics port; every other one has sent a
// partial request line. Connects without blocking: a server that does not
// accept leaves them in the kernel's backlog (or unconnected), as an
// attacker's would be.
std::vector<common::UniqueFd> HoldIdle(const common::SocketAddress& address, int count) {
  std::vector<common::UniqueFd> held;
  for (int i = 0; i < count; ++i) {
    absl::StatusOr<common::UniqueFd> socket = common::StartConnect(address);
    if (!socket.ok()) {
      std::fprintf(stderr, "idle connect %d: %s\n", i, std::string(socket.status().message()).c_str());
      break;
    }
    held.push_back(std::move(*socket));
  }
  // Let the connects finish, then send the partial lines where they did.
  absl::SleepFor(absl::Milliseconds(200));
  for (size_t i = 1; i < held.size(); i += 2) {
    static const char kPartial[] = "GET /hea";
    (void)::send(held[i].get(), kPartial, sizeof(kPartial) - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
  }
  absl::SleepFor(absl::Milliseconds(100));
  return held;
}

// One request on a fresh connection; its duration, or nullopt past the
// deadline or on a response that is not a 200.
std::optional<absl::Duration> TimeRequest(int port, const std::string& path,
                                          absl::Duration timeout) {
  const absl::Time start = absl::Now();
  const absl::Time deadline = start + timeout;
  absl::StatusOr<common::UniqueFd> socket = common::Connect("127.0.0.1", port, timeout);
  if (!socket.ok()) return std::nullopt;
  const std::string request =
      absl::StrCat("GET ", path, " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
  if (!common::SendAll(*socket, request, deadline).ok()) return std::nullopt;
  std::string response;
  char buffer[16384];
  for (;;) {
    absl::StatusOr<size_t> n = common::RecvSome(*socket, buffer, sizeof(buffer), deadline);
    if (!n.ok()) return std::nullopt;
    if (*n == 0) break;
    response.append(buffer, *n);
  }
  if (!absl::StartsWith(response, "HTTP/1.1 200")) return std::nullopt;
  return absl::Now() - start;
}

double Ms(absl::Duration d) { return absl::ToDoubleMilliseconds(d); }

}  // namespace

int main(int argc, char** argv) {
  common::InitProcess("Probe latency under idle connections: bazel run //tools:probe_bench",
                      &argc, &argv);
  common::RaiseFdLimitToMax();
  std::vector<int> idle_counts;
  for (absl::string_view part : absl::StrSplit(FLAGS_idle, ',')) {
    int count = -1;
    if (!absl::SimpleAtoi(part, &count) || count < 0) {
      std::fprintf(stderr, "error: --idle must be a comma-separated list of counts >= 0\n");
      return common::kExitUsage;
    }
    idle_counts.push_back(count);
  }
  const std::string binary = FLAGS_server.empty() ? tools::ServerBinary() : FLAGS_server;
  const std::string metrics_port_file =
      common::TempPath(absl::StrCat("probe_bench_", ::getpid(), ".metrics_port"));
  std::remove(metrics_port_file.c_str());
  tools::ServerSpec spec{"server",
                         {binary, "--port=0", "--port_file={port_file}", "--metrics_port=0",
                          "--metrics_port_file=" + metrics_port_file, "--stats_interval_ms=0",
                          "--minloglevel=1"}};
  auto server = tools::StartServer(spec);
  if (!server.ok()) {
    std::fprintf(stderr, "error: %s\n", std::string(server.status().message()).c_str());
    return 1;
  }
  absl::StatusOr<int> metrics_port = common::WaitForPortFile(
      metrics_port_file, absl::Now() + absl::Seconds(20), [] { return true; });
  std::remove(metrics_port_file.c_str());
  if (!metrics_port.ok()) {
    std::fprintf(stderr, "error: no metrics port: %s\n",
                 std::string(metrics_port.status().message()).c_str());
    return 1;
  }
  absl::StatusOr<common::SocketAddress> address = common::Resolve("127.0.0.1", *metrics_port);
  if (!address.ok()) return 1;

  std::printf("server: %s\n", binary.c_str());
  std::printf("%6s  %-8s  %8s  %8s  %9s  %9s  %9s\n", "idle", "path", "answered", "timeouts",
              "p50 ms", "p99 ms", "max ms");
  const absl::Duration timeout = absl::Milliseconds(FLAGS_timeout_ms);
  for (int idle : idle_counts) {
    for (const char* path : {"/healthz", "/readyz", "/metrics"}) {
      std::vector<common::UniqueFd> held = HoldIdle(*address, idle);
      std::vector<absl::Duration> times;
      int timeouts = 0;
      for (int i = 0; i < FLAGS_requests; ++i) {
        std::optional<absl::Duration> t = TimeRequest(*metrics_port, path, timeout);
        if (!t) {
          ++timeouts;
          break;
        }
        times.push_back(*t);
      }
      std::sort(times.begin(), times.end());
      auto at = [&](double q) {
        if (times.empty()) return std::string("-");
        const size_t i = std::min(times.size() - 1, static_cast<size_t>(q * times.size()));
        return absl::StrCat(absl::SixDigits(Ms(times[i])));
      };
      std::printf("%6d  %-8s  %8zu  %8d  %9s  %9s  %9s\n", idle, path, times.size(), timeouts,
                  at(0.5).c_str(), at(0.99).c_str(),
                  timeouts > 0 ? absl::StrCat(">", FLAGS_timeout_ms).c_str()
                               : at(1.0).c_str());
      std::fflush(stdout);
    }
  }
  return 0;
}
