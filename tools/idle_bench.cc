// //tools:idle_bench: many idle clients plus a few active ones.
//
//   bazel run //tools:idle_bench -- --workers=4 --idle=9900 --active=100
//   bazel run //tools:idle_bench -- --idle=1000 --active=0      # a burst of 1,000
//
// 1. starts the server (event model by default; or --model=classic, or the
//    tutorial's thread-per-client server),
// 2. measures the active clients' ping-pong alone (baseline),
// 3. connects the idle clients all at once (welcome, --idle_lines round
//    trips, then silence), reports how long until every one was welcomed,
//    and waits until the server holds them all,
// 4. measures the active clients again while the idle ones stay connected,
// and reports throughput, p99, server RSS growth per idle connection and
// thread count. Exit code 1 if an idle client was not welcomed or any reply
// mismatched.

#include <signal.h>

#include <atomic>
#include <cstdio>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/fd_limit.h"
#include "common/process_init.h"
#include "common/subprocess.h"
#include "gflags/gflags.h"
#include "tools/bench_runner.h"

DEFINE_string(model, "event", "'event', 'classic' (--model of our server) or 'tutorial' "
              "(thread per client, Python).");
DEFINE_string(io, "io_uring", "--io of our event-model server: 'epoll' or 'io_uring'.");
DEFINE_int32(workers, 0, "Server pool size (0: the server's default for the model).");
DEFINE_int32(idle, 9900, "Idle connections.");
DEFINE_int32(idle_lines, 0, "Round trips each idle client makes before going silent.");
DEFINE_int32(active, 100, "Active ping-pong connections (0: measure the idle ones only).");
DEFINE_int64(duration_ms, 5000, "Length of each ping-pong measurement.");
DEFINE_int32(payload_bytes, 64, "Bytes per line, newline included.");

int main(int argc, char** argv) {
  common::InitProcess("Idle-connection benchmark: bazel run //tools:idle_bench", &argc, &argv);
  common::RaiseFdLimitToMax();
  tools::ServerSpec spec;
  if (FLAGS_model == "tutorial") {
    spec = {"tutorial", {"/usr/bin/python3", common::Runfile("tools/peers/tutorial_server.py"),
                         "{port_file}"}};
  } else if (FLAGS_model == "event" || FLAGS_model == "classic") {
    const std::string io = FLAGS_model == "event" ? absl::StrCat(" --io=", FLAGS_io) : "";
    spec = {absl::StrCat("ours --model=", FLAGS_model, io, " --workers=", FLAGS_workers),
            {tools::ServerBinary(), "--port=0", "--port_file={port_file}",
             absl::StrCat("--model=", FLAGS_model), absl::StrCat("--workers=", FLAGS_workers),
             absl::StrCat("--queue_capacity=", FLAGS_idle + FLAGS_active),
             "--listen_backlog=4096", "--idle_timeout_ms=0", "--stats_interval_ms=0",
             "--minloglevel=1"}};
    if (FLAGS_model == "event") spec.argv.push_back(absl::StrCat("--io=", FLAGS_io));
  } else {
    std::fprintf(stderr, "error: --model must be event, classic or tutorial\n");
    return common::kExitUsage;
  }
  auto server = tools::StartServer(spec);
  if (!server.ok()) {
    std::fprintf(stderr, "error: %s\n", std::string(server.status().message()).c_str());
    return 1;
  }
  common::Subprocess& proc = *(*server)->process;

  client::LoadOptions active;
  active.host = "127.0.0.1";
  active.port = (*server)->port;
  active.connections = FLAGS_active;
  active.duration = absl::Milliseconds(FLAGS_duration_ms);
  active.payload_bytes = FLAGS_payload_bytes;

  const client::LoadReport alone =
      FLAGS_active > 0 ? client::RunLoad(active) : client::LoadReport{};
  const int64_t rss_before = proc.RssBytes();
  const int64_t fds_before = proc.OpenFds();

  std::atomic<bool> stop_idle{false};
  client::LoadOptions idle;
  idle.host = active.host;
  idle.port = active.port;
  idle.mode = client::LoadOptions::Mode::kIdle;
  idle.connections = FLAGS_idle;
  idle.idle_after_lines = FLAGS_idle_lines;
  idle.payload_bytes = FLAGS_payload_bytes;
  idle.duration = absl::Hours(1);  // ended through `stop`
  idle.timeout = absl::Seconds(60);
  idle.max_connecting = FLAGS_idle;  // all at once
  idle.stop = &stop_idle;
  client::LoadReport idle_report;
  std::thread idle_thread([&] { idle_report = client::RunLoad(idle); });

  // Wait until the server holds every idle connection.
  const absl::Time deadline = absl::Now() + absl::Seconds(120);
  while (proc.OpenFds() < fds_before + FLAGS_idle && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(100));
  }
  absl::SleepFor(absl::Milliseconds(500));
  const int64_t rss_idle = proc.RssBytes();
  const int64_t threads_idle = proc.Threads();
  const int64_t fds_idle = proc.OpenFds();

  const client::LoadReport loaded =
      FLAGS_active > 0 ? client::RunLoad(active) : client::LoadReport{};
  stop_idle.store(true);
  idle_thread.join();
  const int64_t peak_rss = proc.PeakRssBytes();
  (*server)->Stop();

  auto row = [](const char* what, const client::LoadReport& r) {
    std::printf("| %s | %lld | %.0f | %.1f | %.1f | %lld |\n", what,
                static_cast<long long>(r.connections_served), r.round_trips_per_second(),
                r.latency.Percentile(0.5) / 1000.0, r.latency.Percentile(0.99) / 1000.0,
                static_cast<long long>(r.timeouts + r.mismatches + r.server_closed + r.busy +
                                       r.connect_failures));
  };
  std::printf("server: %s\n\n", spec.name.c_str());
  std::printf("| active clients | served | round trips/s | p50 us | p99 us | errors |\n"
              "| --- | ---: | ---: | ---: | ---: | ---: |\n");
  row(absl::StrCat(FLAGS_active, " alone").c_str(), alone);
  row(absl::StrCat(FLAGS_active, " with ", FLAGS_idle, " idle").c_str(), loaded);
  const double per_idle =
      FLAGS_idle > 0 ? static_cast<double>(rss_idle - rss_before) / FLAGS_idle : 0;
  std::printf("\nidle clients welcomed: %lld of %d (errors %lld), all within %s of the "
              "first connect\n",
              static_cast<long long>(idle_report.connections_served), FLAGS_idle,
              static_cast<long long>(idle_report.timeouts + idle_report.server_closed +
                                     idle_report.busy + idle_report.connect_failures +
                                     idle_report.mismatches),
              absl::FormatDuration(idle_report.all_served_after).c_str());
  std::printf("server open fds: %lld before idle, %lld with idle\n",
              static_cast<long long>(fds_before), static_cast<long long>(fds_idle));
  std::printf("server RSS: %s before idle, %s with idle, peak %s: %.2f KiB per idle connection\n",
              tools::FormatMiB(rss_before).c_str(), tools::FormatMiB(rss_idle).c_str(),
              tools::FormatMiB(peak_rss).c_str(), per_idle / 1024.0);
  std::printf("server threads with idle clients: %lld\n", static_cast<long long>(threads_idle));
  if (alone.round_trips_per_second() > 0) {
    std::printf("active throughput with idle: %.0f%% of alone; p99 %.2fx\n",
                100.0 * loaded.round_trips_per_second() / alone.round_trips_per_second(),
                static_cast<double>(loaded.latency.Percentile(0.99)) /
                    static_cast<double>(std::max<int64_t>(1, alone.latency.Percentile(0.99))));
  }
  const bool ok = idle_report.connections_served == FLAGS_idle && loaded.mismatches == 0 &&
                  alone.mismatches == 0;
  return ok ? 0 : 1;
}
