#include "tools/soak.h"

#include <signal.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "common/subprocess.h"
#include "tools/bench_runner.h"

namespace tools {

bool SoakReport::ok() const {
  return load.mismatches == 0 && load.lines_sent == load.round_trips && load.round_trips > 0 &&
         fds_end == fds_start && server_exit_code == 0;
}

std::string SoakReport::ToText() const {
  return absl::StrFormat(
      "lines sent %d, verified %d, mismatches %d, timeouts %d, server closed %d\n"
      "connections peak %d, round trips/s %.0f, p99 %.1f us\n"
      "server fds: start %d, end %d; RSS: start %s, end %s, peak %s; exit code %d\n"
      "%s\n",
      load.lines_sent, load.round_trips, load.mismatches, load.timeouts, load.server_closed,
      load.connections_established, load.round_trips_per_second(),
      load.latency.Percentile(0.99) / 1000.0, fds_start, fds_end, FormatMiB(rss_start),
      FormatMiB(rss_end), FormatMiB(rss_peak), server_exit_code, ok() ? "SOAK OK" : "SOAK FAILED");
}

absl::StatusOr<SoakReport> RunSoak(const SoakOptions& options) {
  ServerSpec spec{"server",
                  {ServerBinary(), "--port=0", "--port_file={port_file}", "--workers=256",
                   "--queue_capacity=1024", "--stats_interval_ms=0",
                   absl::StrCat("--max_line_bytes=", options.max_line_bytes)}};
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
  report.load = client::RunLoad(load);

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
