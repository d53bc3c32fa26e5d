#ifndef TOOLS_SOAK_H_
#define TOOLS_SOAK_H_

// Soak: a bounded, randomized endurance run against a fresh server. Many
// connections send lines of random length (1 byte up to --max_line_bytes),
// every reply is checked byte for byte, connections drop and reconnect at
// random. Mixed in, a few hostile clients: half pipeline empty lines and
// never read, half read their replies slowly; the server closes them (write
// timeout, slow-reader rule) and they come back. Afterwards the server's
// descriptor count must be back at its baseline, and its RSS is reported
// next to where it started. Shared by //tools:soak (long runs) and
// //tests:soak_test (CI).

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "client/load_generator.h"

namespace tools {

struct SoakOptions {
  int connections = 200;
  absl::Duration duration = absl::Seconds(60);
  int max_line_bytes = 8192;
  double disconnect_probability = 0.01;
  std::vector<std::string> server_flags;  // e.g. {"--model=classic"}
  int load_threads = 1;
  int hostile_clients = 6;  // non-readers and slow readers, half each
  // Every this long (0: never) one progress line (elapsed, round trips and
  // their rate, open connections, hostile clients, the server's descriptors
  // and RSS) goes to `on_progress`, or to stderr if it is unset.
  absl::Duration progress_every = absl::ZeroDuration();
  std::function<void(const std::string&)> on_progress;
};

struct SoakReport {
  client::LoadReport load;
  int64_t fds_start = -1, fds_end = -1;
  int64_t rss_start = -1, rss_end = -1, rss_peak = -1;
  int server_exit_code = -1;
  int64_t hostile_sessions = 0;  // connections the hostile clients made
  int64_t hostile_closed = 0;    // of those, ended by the server
  // The server's last stats line (its counters at exit: idle timeouts,
  // write timeouts, slow readers...), so a failure says which closings the
  // server made; empty if it printed none.
  std::string server_final_stats;

  // Lines verified == sent, no mismatch, descriptors back to baseline,
  // clean exit, hostile clients closed by the server.
  bool ok() const;
  // Each check that failed, with its numbers ("server descriptors: 12 at
  // the start, 15 at the end"); empty when ok().
  std::vector<std::string> Failures() const;
  std::string ToText() const;
};

absl::StatusOr<SoakReport> RunSoak(const SoakOptions& options);

}  // namespace tools

#endif  // TOOLS_SOAK_H_
