// //tools:compare: this server side by side with the servers a user would
// pick instead, in one run, for docs/PERFORMANCE.md:
//   * asio: Boost.Asio's async_tcp_echo_server example (compiled at run time
//     from Debian's libboost1.81-doc), go: a Go `net` echo
//     (tools/peers/go_echo.go, built at run time with Debian's golang-go);
//     both plain echoes, driven in the load generator's raw mode;
//   * uvloop (Python asyncio + uvloop), node (Node.js `net`), tutorial (the
//     socket tutorial's thread per client), all speaking our line protocol;
//   * ours: default flags, --workers=64, --model=classic --workers=64,
//     --framing=raw (driven raw), and --io=epoll (plain and raw). A row whose flags this server build does
//     not know fails to start; it is reported and the others go on.
// See tools/peer_servers.h for the catalogue and how peers are built.
//
//   bazel run //tools:compare -- --duration_ms=5000 --rounds=3 > docs/compare.md
//
// Method. The machine has two cores and the load generator needs about one,
// so unpinned runs mostly measure how the generator and the server share
// them. With --pin (the default) the server runs on the last CPU of this
// process's affinity mask and the generator (this whole process) on the
// first. Each cell (ping-pong at each --connections, then the connection
// rate at --connect_connections) starts a fresh server, loads it for
// --duration_ms and reads its CPU time (/proc/PID/stat, user+system, over
// the load) and peak RSS and threads. Noise between runs is ±10–20%, so
// every cell is measured --rounds times; round r measures the servers
// starting at the r-th (mod their count), so none always runs first or
// last, and each cell's servers are measured back to back. The table gives
// the median of each metric and ratios to --baseline; the per-round numbers
// follow it (--raw_rounds).
//
// Output: Markdown on stdout, progress and errors on stderr. Exit status 0
// if every server was measured without a mismatched reply, 1 otherwise, 2
// for bad flags.

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/process_init.h"
#include "gflags/gflags.h"
#include "tools/bench_runner.h"
#include "tools/compare_table.h"
#include "tools/peer_flags.h"
#include "tools/peer_servers.h"

DEFINE_int64(duration_ms, 5000, "Load duration per cell and round.");
DEFINE_int32(payload_bytes, 64, "Bytes per line, newline included.");
DEFINE_string(connections, "16,256", "Ping-pong concurrency levels.");
DEFINE_int32(connect_connections, 16, "Concurrency of the connection-rate test.");
DEFINE_string(servers,
              "asio,go,default,epoll,workers64,classic,raw,raw_epoll,uvloop,node,tutorial",
              "Which servers to measure; the table keeps this order.");
DEFINE_string(baseline, "asio", "Server the ratio columns divide by (empty: no ratios).");
DEFINE_int32(rounds, 3, "Measurements per cell and server; the table shows medians.");
DEFINE_bool(pin, true,
            "Run the server on the last CPU of this process's affinity mask and the load "
            "generator on the first.");
DEFINE_bool(raw_rounds, true, "Also print every round's numbers below the table.");

namespace {

int UsageError(const std::string& message) {
  std::fprintf(stderr, "error: %s\n", message.c_str());
  return common::kExitUsage;
}

// Measures every cell --rounds times, round r starting at server r (mod the
// number of servers); a server that fails to start is not tried again.
// Returns whether any reply was mismatched.
bool RunRounds(const std::vector<tools::ServerSpec>& specs,
               const std::vector<tools::CompareCell>& cells, tools::CompareTable& table) {
  bool mismatches = false;
  const size_t n = specs.size();
  for (int round = 0; round < FLAGS_rounds; ++round) {
    for (size_t cell = 0; cell < cells.size(); ++cell) {
      const std::string where = absl::StrCat(
          "round ", round + 1, "/", FLAGS_rounds, ", ",
          cells[cell].mode == client::LoadOptions::Mode::kConnect ? "connect" : "ping-pong", " x",
          cells[cell].connections);
      for (size_t k = 0; k < n; ++k) {
        const size_t s = (static_cast<size_t>(round) + k) % n;
        if (table.failed(static_cast<int>(s))) continue;
        client::LoadOptions load;
        load.mode = cells[cell].mode;
        load.connections = cells[cell].connections;
        load.duration = absl::Milliseconds(FLAGS_duration_ms);
        load.payload_bytes = FLAGS_payload_bytes;
        auto result = tools::RunCell(specs[s], load);
        if (!result.ok()) {
          std::fprintf(stderr, "error: %s: %s (not measured from now on)\n", where.c_str(),
                       std::string(result.status().message()).c_str());
          table.Fail(static_cast<int>(s), std::string(result.status().message()));
          continue;
        }
        table.Add(static_cast<int>(s), static_cast<int>(cell), round, *result);
        if (result->load.mismatches > 0) mismatches = true;
        std::fprintf(stderr, "%s, %s: %.0f ops/s, %.2f us server CPU/op\n", where.c_str(),
                     specs[s].name.c_str(), result->load.round_trips_per_second(),
                     result->ServerCpuMicrosPerRoundTrip());
      }
    }
  }
  return mismatches;
}

}  // namespace

int main(int argc, char** argv) {
  common::InitProcess("Side-by-side comparison: bazel run //tools:compare", &argc, &argv);
  auto connections = tools::ParseIntList("connections", FLAGS_connections);
  if (!connections.ok()) return UsageError(std::string(connections.status().message()));
  if (FLAGS_rounds < 1 || FLAGS_duration_ms < 1 || FLAGS_connect_connections < 1) {
    return UsageError("--rounds, --duration_ms and --connect_connections must be positive");
  }
  const std::vector<std::string> keys = absl::StrSplit(FLAGS_servers, ',', absl::SkipEmpty());
  if (keys.empty()) return UsageError("--servers is empty");
  if (!FLAGS_baseline.empty() &&
      std::find(keys.begin(), keys.end(), FLAGS_baseline) == keys.end()) {
    return UsageError(absl::StrCat("--baseline=", FLAGS_baseline, " is not in --servers"));
  }

  // Peers are built before pinning, so a compiler may use every core.
  const tools::PeerOptions peer_options = tools::PeerOptionsFromFlags();
  std::vector<tools::ServerSpec> specs;
  std::vector<tools::CompareServer> rows;
  std::vector<std::string> unbuilt;  // why a server has no spec; empty if it has one
  for (const std::string& key : keys) {
    auto spec = tools::PeerServer(key, peer_options);
    if (absl::IsNotFound(spec.status())) return UsageError(std::string(spec.status().message()));
    specs.push_back(spec.ok() ? *spec : tools::ServerSpec{key, {}});
    rows.push_back({key, specs.back().name, specs.back().raw});
    unbuilt.push_back(spec.ok() ? "" : std::string(spec.status().message()));
    if (!spec.ok()) std::fprintf(stderr, "error: %s\n", unbuilt.back().c_str());
  }

  std::string placement = "unpinned: server and load generator share every CPU";
  if (FLAGS_pin) {
    const std::vector<int> cpus = tools::AllowedCpus();
    if (cpus.size() < 2) {
      return UsageError(absl::StrCat("--pin needs two CPUs in this process's affinity mask, ",
                                     "it has ", cpus.size(), " (or use --pin=false)"));
    }
    for (tools::ServerSpec& spec : specs) spec.cpu = cpus.back();
    if (absl::Status pinned = tools::PinThisProcess(cpus.front()); !pinned.ok()) {
      std::fprintf(stderr, "error: %s\n", std::string(pinned.message()).c_str());
      return 1;
    }
    placement = absl::StrCat("pinned: server on CPU ", cpus.back(), ", load generator on CPU ",
                             cpus.front());
  }

  std::vector<tools::CompareCell> cells;
  for (int c : *connections) cells.push_back({client::LoadOptions::Mode::kPingPong, c});
  cells.push_back({client::LoadOptions::Mode::kConnect, FLAGS_connect_connections});
  tools::CompareTable table(rows, cells, FLAGS_rounds, FLAGS_baseline);
  for (size_t i = 0; i < specs.size(); ++i) {
    if (!unbuilt[i].empty()) table.Fail(static_cast<int>(i), unbuilt[i]);
  }
  const bool mismatches = RunRounds(specs, cells, table);

  std::printf(
      "%s; %d round(s) of %lld ms per cell, server order rotated each round; medians across "
      "rounds (errors: summed; threads: the most seen). An op is a round trip in ping-pong "
      "rows and a whole connection in connect rows.\n\n%s",
      placement.c_str(), FLAGS_rounds, static_cast<long long>(FLAGS_duration_ms),
      table.Medians().c_str());
  if (FLAGS_raw_rounds) {
    std::printf("\nEvery round (ops/s / server CPU us per op):\n\n%s", table.Rounds().c_str());
  }
  return table.any_failed() || mismatches ? 1 : 0;
}
