#ifndef CLIENT_LOAD_GENERATOR_H_
#define CLIENT_LOAD_GENERATOR_H_

// LoadGenerator: closed-loop load for benchmarks and tuning.
//
// Event-driven (one epoll loop per thread, level-triggered, non-blocking
// connects), so a single thread holds thousands of connections and the
// generator is not what limits a measurement on a small machine.
//
// Modes:
//  * pingpong: every connection sends one line, waits for the whole reply,
//    checks it byte for byte, repeats. Each line carries its connection id
//    and sequence number, so a reply meant for another client, or a stale
//    one, is a mismatch rather than a coincidental match.
//  * connect: connect, read the welcome, one line, close, repeat; measures
//    the rate of new connections.
//  * idle: connect, read the welcome, then hold the connection silently
//    (the many-idle-clients scenario); `connections_served` counts welcomes.
//    With `idle_after_lines`, each first does that many round trips (an idle
//    client after some traffic).
// Runs for --duration_ms, or until --requests round trips (cycles) in total.
//
// Thread safety: RunLoad() is self-contained; it starts and joins its own
// threads.

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "client/load_report.h"
#include "client/tls_client.h"

namespace client {

// Counts of a closed-loop run in progress, for a caller's own progress
// display (e.g. //tools:soak's periodic line); updated as the run goes.
struct LoadProgress {
  std::atomic<int64_t> round_trips{0};
  std::atomic<int64_t> open{0};  // connections open now
};

struct LoadOptions {
  enum class Mode { kPingPong, kConnect, kIdle };
  std::string host = "127.0.0.1";
  int port = 0;
  Mode mode = Mode::kPingPong;
  int connections = 16;
  absl::Duration duration = absl::ZeroDuration();  // either this ...
  int64_t requests = 0;                            // ... or this (total)
  int payload_bytes = 64;                          // line length, '\n' included
  // If > 0, each line's length is instead drawn uniformly from
  // [1, payload_bytes_max] (soak testing: from bare "\n" to the limit).
  int payload_bytes_max = 0;
  // After each verified reply, the connection closes and reconnects with
  // this probability (soak testing: random disconnects).
  double disconnect_probability = 0;
  int idle_after_lines = 0;  // idle mode: round trips before going silent
  bool raw = false;
  std::string expect_prefix = "ok ...";
  int threads = 1;
  absl::Duration timeout = absl::Seconds(5);  // connect, welcome, each reply
  int max_connecting = 256;                   // connects in flight at once
  bool progress = false;                      // one status line per second
  LoadProgress* live = nullptr;               // optional: kept up to date (closed loop)
  // Optional: setting it ends the run early (e.g. a benchmark holding idle
  // connections while it measures something else).
  const std::atomic<bool>* stop = nullptr;
  // After the server ends a session with a closing line (bye, busy, error),
  // connect again, as a well-behaved client would (rolling restarts).
  bool reconnect = false;

  // Open loop (client/open_loop.h; pingpong only): round trips per second
  // in total, 0 for the closed loop above.
  double rate = 0;
  bool poisson = false;          // exponential gaps instead of equal ones
  int max_in_flight = 1;         // per connection; 1 = lock-step
  absl::Duration warmup = absl::ZeroDuration();  // lines due before this are not counted
  double connect_rate = 0;       // new connections per second; 0 = all at once
  // Busy-poll this long before each due line (the timer wakes it then).
  absl::Duration spin = absl::Microseconds(50);
  std::vector<std::string> source_ips;  // numeric IPv4, bound round-robin

  // Non-null: every connection speaks TLS (handshake, then the protocol;
  // closed loop only);
  // with tls_resume, each generator thread offers the session of its first
  // connection to the next ones (resumed handshakes in connect mode).
  const TlsClientContext* tls = nullptr;
  bool tls_resume = false;
};

LoadReport RunLoad(const LoadOptions& options);

}  // namespace client

#endif  // CLIENT_LOAD_GENERATOR_H_
