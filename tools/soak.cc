#include "tools/soak.h"

#include <signal.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "common/socket.h"
#include "common/subprocess.h"
#include "common/unique_fd.h"
#include "tools/bench_runner.h"

namespace tools {
namespace {

// Clients that abuse the server until `until`: even ones pipeline empty
// lines and never read; odd ones do the same but read 128 KiB every 300 ms.
// A client the server closes reconnects. Counts sessions and closures
// (atomics: the progress line reads them while this runs).
struct HostileCounts {
  std::atomic<int64_t> sessions{0};
  std::atomic<int64_t> closed{0};
};

void RunHostileClients(int port, int count, absl::Time until, HostileCounts& counts) {
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
        counts.sessions.fetch_add(1, std::memory_order_relaxed);
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
        counts.closed.fetch_add(1, std::memory_order_relaxed);
        c.socket.Reset();
      }
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
}

}  // namespace

bool SoakReport::ok() const { return Failures().empty(); }

std::vector<std::string> SoakReport::Failures() const {
  std::vector<std::string> failures;
  if (load.round_trips == 0) {
    failures.push_back(absl::StrFormat("no reply was verified (%d lines sent, %d connect "
                                       "failures, %d timeouts)",
                                       load.lines_sent, load.connect_failures, load.timeouts));
  } else if (load.lines_sent != load.round_trips) {
    failures.push_back(absl::StrFormat("%d lines sent were never verified (sent %d, verified "
                                       "%d; timeouts %d, server closed %d, resets %d, eofs %d)",
                                       load.lines_sent - load.round_trips, load.lines_sent,
                                       load.round_trips, load.timeouts, load.server_closed,
                                       load.resets, load.eofs));
  }
  if (load.mismatches > 0) {
    failures.push_back(absl::StrFormat("%d replies differed from the line sent", load.mismatches));
  }
  if (fds_end != fds_start) {
    failures.push_back(absl::StrFormat("server descriptors did not return to baseline: %d at "
                                       "the start, %d at the end",
                                       fds_start, fds_end));
  }
  if (server_exit_code != 0) {
    failures.push_back(absl::StrFormat("server exit code %d, not 0%s", server_exit_code,
                                       server_exit_code == -1 ? " (no exit within 30 s)" : ""));
  }
  if (hostile_sessions > 0 && hostile_closed == 0) {
    failures.push_back(absl::StrFormat("the server closed none of the hostile clients' %d "
                                       "sessions (non-readers and slow readers)",
                                       hostile_sessions));
  }
  return failures;
}

std::string SoakReport::ToText() const {
  return absl::StrFormat(
      "lines sent %d, verified %d, mismatches %d, timeouts %d, server closed %d\n"
      "connections peak %d, round trips/s %.0f, p99 %.1f us\n"
      "hostile clients: %d sessions, %d closed by the server\n"
      "server fds: start %d, end %d; RSS: start %s, end %s, peak %s; exit code %d\n"
      "%s%s\n",
      load.lines_sent, load.round_trips, load.mismatches, load.timeouts, load.server_closed,
      load.connections_established, load.round_trips_per_second(),
      load.latency.Percentile(0.99) / 1000.0, hostile_sessions, hostile_closed, fds_start,
      fds_end, FormatMiB(rss_start),
      FormatMiB(rss_end), FormatMiB(rss_peak), server_exit_code,
      server_final_stats.empty() ? "" : absl::StrCat("server ", server_final_stats, "\n"),
      ok() ? "SOAK OK" : absl::StrCat("SOAK FAILED: ", absl::StrJoin(Failures(), "; ")));
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
  // The baseline once the count has held still for 300 ms (up to 3 s): a
  // descriptor of the server's start-up may still be closing when the port
  // file appears (seen once: 15 at the start, 14 at the end).
  report.fds_start = proc.OpenFds();
  for (absl::Time settle = absl::Now() + absl::Seconds(3), still = absl::Now();
       absl::Now() < settle && absl::Now() - still < absl::Milliseconds(300);) {
    absl::SleepFor(absl::Milliseconds(50));
    const int fds = proc.OpenFds();
    if (fds != report.fds_start) {
      report.fds_start = fds;
      still = absl::Now();
    }
  }
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
  client::LoadProgress live;
  load.live = &live;
  HostileCounts hostile_counts;
  const absl::Time start = absl::Now();
  std::thread hostile([&] {
    RunHostileClients(load.port, options.hostile_clients, start + options.duration,
                      hostile_counts);
  });
  // The progress line: a long soak otherwise says nothing until its end.
  absl::Notification finished;
  std::thread progress;
  if (options.progress_every > absl::ZeroDuration()) {
    progress = std::thread([&] {
      int64_t last_round_trips = 0;
      absl::Time last = start;
      while (!finished.WaitForNotificationWithTimeout(options.progress_every)) {
        const absl::Time now = absl::Now();
        const int64_t round_trips = live.round_trips.load(std::memory_order_relaxed);
        const double seconds = absl::ToDoubleSeconds(now - last);
        const std::string line = absl::StrFormat(
            "soak %.0f/%.0f s: %d round trips (%.0f/s), %d connections open; hostile clients "
            "%d sessions, %d closed by the server; server fds %d, RSS %s",
            absl::ToDoubleSeconds(now - start), absl::ToDoubleSeconds(options.duration),
            round_trips,
            seconds > 0 ? static_cast<double>(round_trips - last_round_trips) / seconds : 0.0,
            live.open.load(std::memory_order_relaxed),
            hostile_counts.sessions.load(std::memory_order_relaxed),
            hostile_counts.closed.load(std::memory_order_relaxed), proc.OpenFds(),
            FormatMiB(proc.RssBytes()));
        if (options.on_progress) {
          options.on_progress(line);
        } else {
          std::fprintf(stderr, "%s\n", line.c_str());
        }
        last_round_trips = round_trips;
        last = now;
      }
    });
  }
  report.load = client::RunLoad(load);
  hostile.join();
  finished.Notify();
  if (progress.joinable()) progress.join();
  report.hostile_sessions = hostile_counts.sessions.load();
  report.hostile_closed = hostile_counts.closed.load();

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
  const std::string err = proc.Stderr();
  const size_t final_at = err.rfind("stats: final ");
  if (final_at != std::string::npos) {
    const size_t end = err.find('\n', final_at);
    report.server_final_stats =
        err.substr(final_at, end == std::string::npos ? std::string::npos : end - final_at);
  }
  return report;
}

}  // namespace tools
