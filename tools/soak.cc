#include "tools/soak.h"

#include <signal.h>
#include <sys/socket.h>

#include <algorithm>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "common/socket.h"
#include "common/subprocess.h"
#include "common/unique_fd.h"
#include "tools/bench_runner.h"

namespace tools {
namespace {

// Clients that abuse the server until `until`: even ones pipeline empty
// lines and never read; odd ones do the same but read 128 KiB every 300 ms.
// A client the server closes reconnects. Counts sessions and closures.
void RunHostileClients(int port, int count, absl::Time until, SoakReport& report) {
  struct Hostile {
    common::UniqueFd socket;
    bool reads_slowly = false;
    absl::Time next_read;
  };
  std::vector<Hostile> clients(count);
  for (int i = 0; i < count; ++i) clients[i].reads_slowly = i % 2 == 1;
  const std::string lines(1 << 16, '\n');
  std::string sink(128 << 10, '\0');
  while (absl::Now() < until) {
    const absl::Time now = absl::Now();
    for (Hostile& c : clients) {
      if (!c.socket.valid()) {
        auto socket = common::Connect("127.0.0.1", port, absl::Seconds(1));
        if (!socket.ok()) continue;
        c.socket = std::move(*socket);
        c.next_read = now;
        ++report.hostile_sessions;
      }
      bool closed =
          ::send(c.socket.get(), lines.data(), lines.size(), MSG_DONTWAIT | MSG_NOSIGNAL) < 0 &&
          errno != EAGAIN && errno != EWOULDBLOCK;
      if (!closed && c.reads_slowly && now >= c.next_read) {
        const ssize_t n = ::recv(c.socket.get(), sink.data(), sink.size(), MSG_DONTWAIT);
        closed = n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
        c.next_read = now + absl::Milliseconds(300);
      }
      if (closed) {
        ++report.hostile_closed;
        c.socket.Reset();
      }
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
}

}  // namespace

bool SoakReport::ok() const {
  return load.mismatches == 0 && load.lines_sent == load.round_trips && load.round_trips > 0 &&
         fds_end == fds_start && server_exit_code == 0 &&
         (hostile_sessions == 0 || hostile_closed > 0);
}

std::string SoakReport::ToText() const {
  return absl::StrFormat(
      "lines sent %d, verified %d, mismatches %d, timeouts %d, server closed %d\n"
      "connections peak %d, round trips/s %.0f, p99 %.1f us\n"
      "hostile clients: %d sessions, %d closed by the server\n"
      "server fds: start %d, end %d; RSS: start %s, end %s, peak %s; exit code %d\n"
      "%s\n",
      load.lines_sent, load.round_trips, load.mismatches, load.timeouts, load.server_closed,
      load.connections_established, load.round_trips_per_second(),
      load.latency.Percentile(0.99) / 1000.0, hostile_sessions, hostile_closed, fds_start,
      fds_end, FormatMiB(rss_start),
      FormatMiB(rss_end), FormatMiB(rss_peak), server_exit_code, ok() ? "SOAK OK" : "SOAK FAILED");
}

absl::StatusOr<SoakReport> RunSoak(const SoakOptions& options) {
  // Short timeouts, so the hostile clients are closed (and come back)
  // several times within a run; the verified clients never pause that long.
  ServerSpec spec{"server",
                  {ServerBinary(), "--port=0", "--port_file={port_file}", "--queue_capacity=1024",
                   "--stats_interval_ms=0", "--write_timeout_ms=1500", "--idle_timeout_ms=3000",
                   absl::StrCat("--max_line_bytes=", options.max_line_bytes),
                   absl::StrCat("--max_output_bytes=",
                                std::max(65536, 4 * (options.max_line_bytes + 64)))}};
  for (const std::string& f : options.server_flags) spec.argv.push_back(f);
  auto server = StartServer(spec);
  if (!server.ok()) return server.status();
  common::Subprocess& proc = *(*server)->process;

  SoakReport report;
  report.fds_start = proc.OpenFds();
  report.rss_start = proc.RssBytes();
  client::LoadOptions load;
  load.host = "127.0.0.1";
  load.port = (*server)->port;
  load.connections = options.connections;
  load.duration = options.duration;
  load.payload_bytes_max = options.max_line_bytes + 1;  // + '\n'
  load.disconnect_probability = options.disconnect_probability;
  load.threads = options.load_threads;
  load.timeout = absl::Seconds(30);
  std::thread hostile([&] {
    RunHostileClients(load.port, options.hostile_clients, absl::Now() + options.duration, report);
  });
  report.load = client::RunLoad(load);
  hostile.join();

  // Closed connections leave the server within its lingering bound (2 s).
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  do {
    report.fds_end = proc.OpenFds();
    if (report.fds_end == report.fds_start) break;
    absl::SleepFor(absl::Milliseconds(50));
  } while (absl::Now() < deadline);
  report.rss_end = proc.RssBytes();
  report.rss_peak = proc.PeakRssBytes();
  proc.Signal(SIGTERM);
  report.server_exit_code = proc.Wait(absl::Seconds(30)).value_or(-1);
  return report;
}

}  // namespace tools
