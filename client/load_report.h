#ifndef CLIENT_LOAD_REPORT_H_
#define CLIENT_LOAD_REPORT_H_

// LoadReport: what a load run (client/load_generator.h, client/open_loop.h)
// measured, and its text and JSON renderings.
//
// Closed loop, `latency` is the time from sending a line to its reply. Open
// loop (rate_requested > 0), `latency` is measured from the time the line
// was *due* by the schedule, so a stall shows in it even when it kept the
// generator from sending (coordinated omission, as wrk2 corrects it), and
// `service_latency` from the actual send. The rendering states plainly
// whether the achieved rate fell short of the request and whether the
// generator itself (late sends while it was free to send, its CPU time) or
// the server was the cause.
//
// Thread safety: a plain value; build it on one thread.

#include <cstdint>
#include <string>

#include "absl/time/time.h"
#include "client/latency_histogram.h"

namespace client {

struct LoadReport {
  // What the run did, for the wording: a connect-mode "round trip" is a
  // whole connection (connect, welcome, one line, close), an idle run has no
  // latency to show unless its clients talked first.
  enum class Mode { kPingPong, kConnect, kIdle };
  Mode mode = Mode::kPingPong;
  bool raw = false;        // --raw: no welcome, no reply prefix expected
  bool reconnect = false;  // --reconnect: closing lines are expected, not errors

  int connections_requested = 0;
  int64_t connections_established = 0;  // peak simultaneously open
  int64_t connections_served = 0;       // completed at least one round trip
  int64_t lines_sent = 0;               // lines fully sent
  int64_t round_trips = 0;              // replies verified / connect cycles (open loop: see below)
  int64_t bytes_received = 0;           // reply bytes
  absl::Duration elapsed;               // open loop: the measured window, after the warm-up
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
  // Connects after a connection's first one: after the server closed it
  // (--reconnect), or after a random disconnect (--disconnect_probability).
  int64_t reconnects = 0;
  // Of `timeouts`: connections that never got their welcome line (a raw
  // server says nothing until it hears something).
  int64_t welcome_timeouts = 0;
  bool interrupted = false;             // stopped early (Ctrl-C)
  int64_t tls_full_handshakes = 0;      // --tls
  int64_t tls_resumed_handshakes = 0;   // --tls --tls_resume

  // Open loop only.
  double rate_requested = 0;            // round trips per second asked for
  // Replies that arrived in the measured window, whenever their line was
  // due: the achieved rate (round_trips counts the lines due in the window,
  // which an overloaded server may not have answered by its end).
  int64_t replies_in_window = 0;
  absl::Duration warmup;                // excluded from the figures
  LatencyHistogram service_latency;     // actual send to reply
  // How late lines went out after they were due while their connection was
  // free to send (not waiting for a reply): the generator's own lag.
  LatencyHistogram send_lag;
  int64_t lines_not_sent = 0;           // due before the end but never sent
  int generator_threads = 0;
  double generator_cpu_s = 0;           // CPU time of the generator's threads
  double generator_spin_s = 0;          // of which busy-polling with nothing due

  // Adds a generator thread's counts and histograms to these (the run's
  // totals); what is not a count (mode, elapsed, ...) is the caller's.
  void AddCounts(const LoadReport& other);

  // Open loop: replies_in_window per second of the window.
  double round_trips_per_second() const;
  double megabytes_per_second() const;
  // CPU nanoseconds the generator spent per line, spinning excluded.
  double generator_ns_per_line() const;
  // Whether the generator, rather than the server, failed the schedule.
  bool GeneratorBehind() const;
  // A line suggesting the other framing when the replies suggest --raw does
  // not match the server's (every reply wrong, or no welcome ever); "".
  std::string FramingHint() const;
  std::string ToText() const;
  std::string ToJson() const;
};

}  // namespace client

#endif  // CLIENT_LOAD_REPORT_H_
