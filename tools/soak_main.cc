// //tools:soak: bounded randomized endurance run (see tools/soak.h).
//
//   bazel run //tools:soak -- --connections=300 --duration_ms=60000
//
// Exit code 0 only if every line sent was verified, nothing mismatched and
// the server's descriptors returned to baseline; otherwise the last line
// says which checks failed, with their numbers. A progress line goes to
// stderr every --progress_s seconds.

#include <cstdio>

#include "absl/strings/str_split.h"
#include "common/process_init.h"
#include "gflags/gflags.h"
#include "tools/soak.h"

DEFINE_int32(connections, 300, "Concurrent connections.");
DEFINE_int64(duration_ms, 60000, "How long to run.");
DEFINE_int32(max_line_bytes, 8192, "Server --max_line_bytes; lines are 1..this long.");
DEFINE_double(disconnect_probability, 0.01, "Chance of a reconnect after each reply.");
DEFINE_string(server_flags, "", "Extra server flags, space-separated.");
DEFINE_int32(hostile_clients, 10, "Non-reading and slow-reading clients mixed in.");
DEFINE_int64(progress_s, 10, "Print a progress line on stderr every this many seconds (0: none).");

int main(int argc, char** argv) {
  common::InitProcess("Soak test: bazel run //tools:soak -- --duration_ms=60000", &argc, &argv);
  tools::SoakOptions options;
  options.connections = FLAGS_connections;
  options.duration = absl::Milliseconds(FLAGS_duration_ms);
  options.max_line_bytes = FLAGS_max_line_bytes;
  options.disconnect_probability = FLAGS_disconnect_probability;
  options.hostile_clients = FLAGS_hostile_clients;
  options.progress_every = absl::Seconds(FLAGS_progress_s);
  for (absl::string_view f : absl::StrSplit(FLAGS_server_flags, ' ', absl::SkipEmpty())) {
    options.server_flags.emplace_back(f);
  }
  auto report = tools::RunSoak(options);
  if (!report.ok()) {
    std::fprintf(stderr, "error: %s\n", std::string(report.status().message()).c_str());
    return 1;
  }
  std::printf("%s", report->ToText().c_str());
  return report->ok() ? 0 : 1;
}
