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

#include "absl/time/time.h"
#include "client/latency_histogram.h"

namespace client {

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
  // Optional: setting it ends the run early (e.g. a benchmark holding idle
  // connections while it measures something else).
  const std::atomic<bool>* stop = nullptr;
  // After the server ends a session with a closing line (bye, busy, error),
  // connect again, as a well-behaved client would (rolling restarts).
  bool reconnect = false;
};

struct LoadReport {
  int connections_requested = 0;
  int64_t connections_established = 0;  // peak simultaneously open
  int64_t connections_served = 0;       // completed at least one round trip
  int64_t lines_sent = 0;               // lines fully sent
  int64_t round_trips = 0;              // replies verified / connect cycles
  int64_t bytes_received = 0;           // reply bytes
  absl::Duration elapsed;
  LatencyHistogram latency;             // nanoseconds per round trip/cycle
  // From the start until every requested connection had been served (idle
  // mode: welcomed); InfiniteDuration if some never were.
  absl::Duration all_served_after = absl::InfiniteDuration();
  int64_t connect_failures = 0;
  int64_t busy = 0;                     // "busy" line instead of a welcome
  int64_t timeouts = 0;
  int64_t mismatches = 0;               // reply differs from what was sent
  int64_t server_closed = 0;            // server ended the session with a closing line
  int64_t eofs = 0;                     // EOF without a closing line
  int64_t resets = 0;                   // connection reset (recv/send failed)
  int64_t sessions = 0;                 // connections established (welcomed or not)

  double round_trips_per_second() const;
  double megabytes_per_second() const;
  std::string ToText() const;
  std::string ToJson() const;
};

LoadReport RunLoad(const LoadOptions& options);

}  // namespace client

#endif  // CLIENT_LOAD_GENERATOR_H_
