// //tools:compare: this server side by side with its peers, in one run, for
// docs/PERFORMANCE.md:
//   * tutorial: the socket tutorial's thread-per-client server (Python),
//   * node: a Node.js `net` server, uvloop: Python asyncio + uvloop,
//   * ours with default flags, ours with a tuned pool, ours parked.
// All speak the same protocol, so the same load generator checks every reply.
//
//   bazel run //tools:compare -- --duration_ms=5000 > docs/compare.md

#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "common/process_init.h"
#include "common/subprocess.h"
#include "gflags/gflags.h"
#include "tools/bench_runner.h"

DEFINE_int64(duration_ms, 5000, "Load duration per cell.");
DEFINE_int32(payload_bytes, 64, "Bytes per line, newline included.");
DEFINE_string(connections, "16,256", "Ping-pong concurrency levels.");
DEFINE_int32(connect_connections, 16, "Concurrency of the connection-rate test.");
DEFINE_string(servers, "tutorial,node,uvloop,default,tuned,parked",
              "Which servers to measure, in order.");
DEFINE_int32(tuned_workers, 256, "Pool size of the 'tuned' row (from //tools:tune).");
DEFINE_int32(parked_workers, 1, "Pool size of the 'parked' row.");
DEFINE_string(python, "/usr/bin/python3", "Debian's python3 (it has python3-uvloop).");
DEFINE_string(node, "/usr/bin/node", "Node.js.");

namespace {

tools::ServerSpec Spec(const std::string& name) {
  const std::string server = tools::ServerBinary();
  const std::vector<std::string> ours = {server, "--port=0", "--port_file={port_file}",
                                         "--stats_interval_ms=0", "--minloglevel=1",
                                         "--queue_capacity=1024"};
  tools::ServerSpec spec{name, {}};
  if (name == "tutorial") {
    spec.argv = {FLAGS_python, common::Runfile("tools/peers/tutorial_server.py"), "{port_file}"};
  } else if (name == "node") {
    spec.argv = {FLAGS_node, common::Runfile("tools/peers/node_echo.js"), "{port_file}"};
  } else if (name == "uvloop") {
    spec.argv = {FLAGS_python, common::Runfile("tools/peers/uvloop_echo.py"), "{port_file}"};
  } else if (name == "default") {
    spec.name = "ours, default flags";
    spec.argv = ours;
  } else if (name == "tuned") {
    spec.name = absl::StrCat("ours, --workers=", FLAGS_tuned_workers);
    spec.argv = ours;
    spec.argv.push_back(absl::StrCat("--workers=", FLAGS_tuned_workers));
  } else if (name == "parked") {
    spec.name = absl::StrCat("ours, --park_idle_sessions --workers=", FLAGS_parked_workers);
    spec.argv = ours;
    spec.argv.push_back("--park_idle_sessions");
    spec.argv.push_back(absl::StrCat("--workers=", FLAGS_parked_workers));
  }
  return spec;
}

}  // namespace

int main(int argc, char** argv) {
  common::InitProcess("Side-by-side comparison: bazel run //tools:compare", &argc, &argv);
  auto connections = tools::ParseIntList("connections", FLAGS_connections);
  if (!connections.ok()) {
    std::fprintf(stderr, "error: %s\n", std::string(connections.status().message()).c_str());
    return common::kExitUsage;
  }
  std::printf("| server | mode | conns | served | round trips/s | p50 us | p99 us | max us | "
              "errors | server CPU us per round trip | peak RSS | threads |\n"
              "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
  int failures = 0;
  for (absl::string_view name : absl::StrSplit(FLAGS_servers, ',', absl::SkipEmpty())) {
    tools::ServerSpec spec = Spec(std::string(name));
    if (spec.argv.empty()) {
      std::fprintf(stderr, "error: unknown server '%s'\n", std::string(name).c_str());
      return common::kExitUsage;
    }
    std::vector<std::pair<client::LoadOptions::Mode, int>> cells;
    for (int c : *connections) cells.emplace_back(client::LoadOptions::Mode::kPingPong, c);
    cells.emplace_back(client::LoadOptions::Mode::kConnect, FLAGS_connect_connections);
    for (auto [mode, conns] : cells) {
      client::LoadOptions load;
      load.mode = mode;
      load.connections = conns;
      load.duration = absl::Milliseconds(FLAGS_duration_ms);
      load.payload_bytes = FLAGS_payload_bytes;
      auto cell = tools::RunCell(spec, load);
      if (!cell.ok()) {
        std::fprintf(stderr, "error: %s\n", std::string(cell.status().message()).c_str());
        ++failures;
        continue;
      }
      const client::LoadReport& r = cell->load;
      const int64_t errors =
          r.connect_failures + r.busy + r.timeouts + r.mismatches + r.server_closed;
      const double cpu_us_per_rt =
          r.round_trips > 0 ? cell->server_cpu_seconds * 1e6 / static_cast<double>(r.round_trips)
                            : 0;
      std::printf("| %s | %s | %d | %lld | %.0f | %.1f | %.1f | %.1f | %lld | %.1f | %s | %lld |\n",
                  spec.name.c_str(),
                  mode == client::LoadOptions::Mode::kPingPong ? "ping-pong" : "connect",
                  conns, static_cast<long long>(r.connections_served), r.round_trips_per_second(),
                  r.latency.Percentile(0.5) / 1000.0, r.latency.Percentile(0.99) / 1000.0,
                  r.latency.max() / 1000.0, static_cast<long long>(errors), cpu_us_per_rt,
                  tools::FormatMiB(cell->peak_rss_bytes).c_str(),
                  static_cast<long long>(cell->max_threads));
      std::fflush(stdout);
      if (r.mismatches > 0) ++failures;
    }
  }
  return failures == 0 ? 0 : 1;
}
