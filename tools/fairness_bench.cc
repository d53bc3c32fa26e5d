// //tools:fairness_bench: what a flooding client costs the other sessions of
// its worker.
//
//   bazel run //tools:fairness_bench -- --flooders=0,1,4,8 --rounds=3
//   bazel run //tools:fairness_bench -- --server=/tmp/old-server   # compare binaries
//
// For each flooder count: starts the server with one worker on CPU 1 (this
// process stays on CPU 0), connects the flooders (each pipelines empty lines
// as fast as the server takes them and reads every reply: the worst case,
// seven bytes of reply per byte of input), then measures one lock-step client
// (send a line, wait for its reply) on the same worker. Reports the lock-step
// client's p50/p99/max round trip and the flooders' replies per second; with
// --rounds > 1, the median of each over the rounds (rounds rotate through
// the flooder counts, so a noisy moment does not hit one count only).

#include <poll.h>
#include <sys/socket.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "client/latency_histogram.h"
#include "common/process_init.h"
#include "common/socket.h"
#include "common/subprocess.h"
#include "gflags/gflags.h"
#include "tools/bench_runner.h"

DEFINE_string(flooders, "0,1,4,8", "Flooding clients beside the lock-step one, per row.");
DEFINE_int32(rounds, 3, "Rounds through every row; the table shows medians.");
DEFINE_int64(duration_ms, 3000, "Length of each measurement.");
DEFINE_string(server, "", "Server binary (default: this workspace's //server).");
DEFINE_int32(server_cpu, 1, "CPU for the server (-1: unpinned).");
DEFINE_int32(bench_cpu, 0, "CPU for this process (-1: unpinned).");

namespace {

int64_t NowNanos() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

struct Cell {
  double p50_us = 0, p99_us = 0, max_us = 0;
  double lockstep_per_s = 0;
  double flood_replies_per_s = 0;
};

// Runs every flooder socket from one thread: write empty lines while the
// server takes them, read and count every reply byte.
int64_t Flood(std::vector<common::UniqueFd>& sockets, const std::atomic<bool>& stop) {
  const std::string lines(64 * 1024, '\n');
  std::vector<char> buffer(256 * 1024);
  std::vector<pollfd> fds;
  for (auto& s : sockets) fds.push_back({s.get(), POLLIN | POLLOUT, 0});
  int64_t received = 0;
  while (!stop.load(std::memory_order_relaxed) && !fds.empty()) {
    if (::poll(fds.data(), fds.size(), 100) <= 0) continue;
    for (pollfd& p : fds) {
      if (p.revents & (POLLERR | POLLHUP)) p.events = 0;
      if (p.revents & POLLIN) {
        const ssize_t n = ::recv(p.fd, buffer.data(), buffer.size(), MSG_DONTWAIT);
        if (n > 0) received += n;
        if (n == 0) p.events = 0;
      }
      if (p.revents & POLLOUT) {
        (void)::send(p.fd, lines.data(), lines.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
      }
    }
  }
  return received;
}

absl::StatusOr<Cell> RunCell(const std::string& binary, int flooders) {
  tools::ServerSpec spec{"ours",
                         {binary, "--port=0", "--port_file={port_file}", "--workers=1",
                          "--idle_timeout_ms=0", "--stats_interval_ms=0", "--minloglevel=1"},
                         /*raw=*/false,
                         FLAGS_server_cpu};
  auto server = tools::StartServer(spec);
  if (!server.ok()) return server.status();
  const int port = (*server)->port;
  const absl::Time deadline = absl::Now() + absl::Seconds(10);

  std::vector<common::UniqueFd> flood;
  for (int i = 0; i < flooders; ++i) {
    auto fd = common::Connect("127.0.0.1", port, absl::Seconds(5));
    if (!fd.ok()) return fd.status();
    if (common::RecvLine(*fd, deadline).empty()) return absl::UnavailableError("no welcome");
    flood.push_back(std::move(*fd));
  }
  auto probe = common::Connect("127.0.0.1", port, absl::Seconds(5));
  if (!probe.ok()) return probe.status();
  if (common::RecvLine(*probe, deadline).empty()) return absl::UnavailableError("no welcome");
  (void)common::SetNoDelay(*probe);

  std::atomic<bool> stop{false};
  int64_t flood_bytes = 0;
  std::thread flooder([&] { flood_bytes = Flood(flood, stop); });
  absl::SleepFor(absl::Milliseconds(300));  // the flood reaches its pace

  client::LatencyHistogram latency;
  const std::string line = "fair?\n";
  const std::string reply = "ok ...fair?\n";
  std::string got;
  char buf[256];
  int64_t round_trips = 0;
  const int64_t start = NowNanos();
  const int64_t end = start + FLAGS_duration_ms * 1000000;
  while (NowNanos() < end) {
    const int64_t sent = NowNanos();
    if (!common::SendAll(*probe, line, absl::Now() + absl::Seconds(10)).ok()) {
      return absl::UnavailableError("lock-step send failed");
    }
    got.clear();
    while (got.size() < reply.size()) {
      auto n = common::RecvSome(*probe, buf, sizeof(buf), absl::Now() + absl::Seconds(10));
      if (!n.ok() || *n == 0) return absl::UnavailableError("lock-step reply lost");
      got.append(buf, *n);
    }
    if (got != reply) return absl::DataLossError(absl::StrCat("unexpected reply: ", got));
    latency.Record(NowNanos() - sent);
    ++round_trips;
  }
  const double seconds = static_cast<double>(NowNanos() - start) / 1e9;
  stop.store(true);
  flooder.join();
  (*server)->Stop();

  Cell cell;
  cell.p50_us = static_cast<double>(latency.Percentile(0.5)) / 1000.0;
  cell.p99_us = static_cast<double>(latency.Percentile(0.99)) / 1000.0;
  cell.max_us = static_cast<double>(latency.Percentile(1.0)) / 1000.0;
  cell.lockstep_per_s = static_cast<double>(round_trips) / seconds;
  // "ok ...\n" per empty line; over the whole flood, not only the probe's time.
  cell.flood_replies_per_s = static_cast<double>(flood_bytes) / 7.0 / (seconds + 0.3);
  return cell;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  common::InitProcess("Fairness benchmark: bazel run //tools:fairness_bench", &argc, &argv);
  std::vector<int> counts;
  for (absl::string_view part : absl::StrSplit(FLAGS_flooders, ',')) {
    int n = 0;
    if (!absl::SimpleAtoi(part, &n) || n < 0 || n > 1000) {
      std::fprintf(stderr, "error: --flooders must list counts from 0 to 1000, not '%s'\n",
                   FLAGS_flooders.c_str());
      return common::kExitUsage;
    }
    counts.push_back(n);
  }
  if (FLAGS_bench_cpu >= 0) {
    if (absl::Status s = tools::PinThisProcess(FLAGS_bench_cpu); !s.ok()) {
      std::fprintf(stderr, "error: %s\n", std::string(s.message()).c_str());
      return 1;
    }
  }
  const std::string binary =
      FLAGS_server.empty() ? tools::ServerBinary() : tools::OutputPath(FLAGS_server);
  std::map<int, std::vector<Cell>> cells;
  for (int round = 0; round < FLAGS_rounds; ++round) {
    for (size_t i = 0; i < counts.size(); ++i) {
      const int flooders = counts[(i + round) % counts.size()];
      auto cell = RunCell(binary, flooders);
      if (!cell.ok()) {
        std::fprintf(stderr, "error: %d flooders: %s\n", flooders,
                     std::string(cell.status().message()).c_str());
        return 1;
      }
      std::fprintf(stderr, "round %d, %d flooders: p99 %.0f us, flood %.1fM replies/s\n",
                   round + 1, flooders, cell->p99_us, cell->flood_replies_per_s / 1e6);
      cells[flooders].push_back(*cell);
    }
  }
  std::printf("server: %s, one worker%s; medians of %d rounds of %lld ms\n\n", binary.c_str(),
              FLAGS_server_cpu >= 0 ? absl::StrCat(" on CPU ", FLAGS_server_cpu).c_str() : "",
              FLAGS_rounds, static_cast<long long>(FLAGS_duration_ms));
  std::printf("| flooders | lock-step p50 us | p99 us | max us | lock-step round trips/s | "
              "flood replies/s |\n| ---: | ---: | ---: | ---: | ---: | ---: |\n");
  for (const auto& row : cells) {
    const int flooders = row.first;
    const std::vector<Cell>& runs = row.second;
    auto median = [&](double Cell::*field) {
      std::vector<double> v;
      for (const Cell& c : runs) v.push_back(c.*field);
      return Median(v);
    };
    std::printf("| %d | %.0f | %.0f | %.0f | %.0f | %.2fM |\n", flooders, median(&Cell::p50_us),
                median(&Cell::p99_us), median(&Cell::max_us), median(&Cell::lockstep_per_s),
                median(&Cell::flood_replies_per_s) / 1e6);
  }
  return 0;
}
