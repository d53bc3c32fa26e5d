#include "client/load_report.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace client {
namespace {

// A send lag past this, while free to send, is the generator falling behind.
constexpr int64_t kBehindLagNanos = 200 * 1000;

double Us(int64_t nanos) { return static_cast<double>(nanos) / 1000.0; }

struct Quantiles {
  double p50, p90, p99, p999, p9999, max;
};

Quantiles Of(const LatencyHistogram& h) {
  return {Us(h.Percentile(0.5)),   Us(h.Percentile(0.9)),    Us(h.Percentile(0.99)),
          Us(h.Percentile(0.999)), Us(h.Percentile(0.9999)), Us(h.max())};
}

}  // namespace

double LoadReport::round_trips_per_second() const {
  const double s = absl::ToDoubleSeconds(elapsed);
  const int64_t n = rate_requested > 0 ? replies_in_window : round_trips;
  return s > 0 ? static_cast<double>(n) / s : 0;
}

double LoadReport::megabytes_per_second() const {
  const double s = absl::ToDoubleSeconds(elapsed);
  return s > 0 ? static_cast<double>(bytes_received) / s / 1e6 : 0;
}

double LoadReport::generator_ns_per_line() const {
  if (lines_sent == 0) return 0;
  return std::max(0.0, generator_cpu_s - generator_spin_s) * 1e9 / static_cast<double>(lines_sent);
}

bool LoadReport::GeneratorBehind() const {
  if (rate_requested <= 0) return false;
  if (send_lag.Percentile(0.99) > kBehindLagNanos) return true;
  const double wall = absl::ToDoubleSeconds(elapsed + warmup) * std::max(1, generator_threads);
  const double busy = wall > 0 ? (generator_cpu_s - generator_spin_s) / wall : 0;
  return round_trips_per_second() < 0.95 * rate_requested && busy > 0.9;
}

std::string LoadReport::FramingHint() const {
  if (round_trips > 0) return "";
  // Raw echo against a line server: the welcome line and the "ok ..."
  // prefix arrive where the echo was expected, so every reply mismatches.
  if (raw && mismatches > 0) {
    return "hint: no reply was the line sent, echoed as is: the server's framing may be line "
           "(a welcome line, then a prefix on each reply); drop --raw\n";
  }
  // Line mode against a raw server: it says nothing until it hears a line,
  // so the welcome never comes.
  if (!raw && welcome_timeouts > 0 && connections_served == 0) {
    return "hint: no welcome line arrived within --timeout_ms: the server's framing may be raw "
           "(no welcome, no reply prefix); add --raw\n";
  }
  return "";
}

void LoadReport::AddCounts(const LoadReport& r) {
  connections_established += r.connections_established;
  connections_served += r.connections_served;
  lines_sent += r.lines_sent;
  round_trips += r.round_trips;
  bytes_received += r.bytes_received;
  latency.Merge(r.latency);
  connect_failures += r.connect_failures;
  busy += r.busy;
  timeouts += r.timeouts;
  mismatches += r.mismatches;
  server_closed += r.server_closed;
  eofs += r.eofs;
  resets += r.resets;
  sessions += r.sessions;
  reconnects += r.reconnects;
  welcome_timeouts += r.welcome_timeouts;
  tls_full_handshakes += r.tls_full_handshakes;
  tls_resumed_handshakes += r.tls_resumed_handshakes;
  replies_in_window += r.replies_in_window;
  service_latency.Merge(r.service_latency);
  send_lag.Merge(r.send_lag);
  lines_not_sent += r.lines_not_sent;
  generator_cpu_s += r.generator_cpu_s;
  generator_spin_s += r.generator_spin_s;
}

std::string LoadReport::ToText() const {
  const Quantiles q = Of(latency);
  std::string out =
      absl::StrFormat("connections: %d requested, %d established (peak), %d served\n",
                      connections_requested, connections_established, connections_served);
  if (rate_requested <= 0) {
    const double seconds = absl::ToDoubleSeconds(elapsed);
    if (mode == Mode::kConnect) {
      absl::StrAppendFormat(&out,
                            "connects:    %d connections (connect, welcome, one line, close) in "
                            "%.2f s = %.0f connects/s, %.2f MB/s received\n",
                            round_trips, seconds, round_trips_per_second(),
                            megabytes_per_second());
    } else if (mode == Mode::kIdle) {
      absl::StrAppendFormat(&out, "idle:        %d of %d connections welcomed and held",
                            connections_served, connections_requested);
      if (all_served_after != absl::InfiniteDuration()) {
        absl::StrAppendFormat(&out, " (all welcomed after %.3f s)",
                              absl::ToDoubleSeconds(all_served_after));
      }
      absl::StrAppendFormat(&out, ", %.2f s in all\n", seconds);
    }
    if (mode != Mode::kConnect && round_trips > 0) {
      absl::StrAppendFormat(&out, "round trips: %d in %.2f s = %.0f/s, %.2f MB/s received\n",
                            round_trips, seconds, round_trips_per_second(),
                            megabytes_per_second());
    } else if (mode == Mode::kPingPong) {
      absl::StrAppendFormat(&out, "round trips: none in %.2f s\n", seconds);
    }
    // An idle run that never talked has no latency: no row of zeros.
    if (latency.count() > 0) {
      absl::StrAppendFormat(&out,
                            "latency us:  p50 %.1f  p90 %.1f  p99 %.1f  p99.9 %.1f  max %.1f%s\n",
                            q.p50, q.p90, q.p99, q.p999, q.max,
                            mode == Mode::kConnect ? "  (a whole connection each)" : "");
    }
  } else {
    absl::StrAppendFormat(&out,
                          "round trips: %d lines due in the window were answered (the latency "
                          "below is theirs), %.2f MB/s received\n",
                          round_trips, megabytes_per_second());
    const double achieved = round_trips_per_second();
    absl::StrAppendFormat(&out,
                          "rate:        requested %.0f/s, achieved %.0f/s (%.1f%%: %d replies) "
                          "over %.2f s after a %.2f s warm-up%s\n",
                          rate_requested, achieved, 100.0 * achieved / rate_requested,
                          replies_in_window, absl::ToDoubleSeconds(elapsed),
                          absl::ToDoubleSeconds(warmup),
                          interrupted ? " (interrupted)" : "");
    absl::StrAppendFormat(&out,
                          "latency us:  p50 %.1f  p90 %.1f  p99 %.1f  p99.9 %.1f  p99.99 %.1f  "
                          "max %.1f  (from when each line was due)\n",
                          q.p50, q.p90, q.p99, q.p999, q.p9999, q.max);
    const Quantiles s = Of(service_latency);
    absl::StrAppendFormat(&out,
                          "service us:  p50 %.1f  p90 %.1f  p99 %.1f  p99.9 %.1f  p99.99 %.1f  "
                          "max %.1f  (from the actual send)\n",
                          s.p50, s.p90, s.p99, s.p999, s.p9999, s.max);
    absl::StrAppendFormat(&out,
                          "generator:   %d thread(s), cpu %.2f s (%.2f s of it polling for the "
                          "next send), %.0f ns per line; send lag p99 %.1f us, max %.1f us; "
                          "%d lines due but not sent\n",
                          generator_threads, generator_cpu_s, generator_spin_s,
                          generator_ns_per_line(), Us(send_lag.Percentile(0.99)),
                          Us(send_lag.max()), lines_not_sent);
    if (send_lag.Percentile(0.99) > kBehindLagNanos) {
      absl::StrAppendFormat(&out,
                            "WARNING: the generator fell behind its own schedule: p99 %.0f us "
                            "late while the connection was free to send. That lag is the "
                            "generator's (a busy host, or too few --load_threads), not the "
                            "server's, and is in the latency above.\n",
                            Us(send_lag.Percentile(0.99)));
    }
    if (achieved < 0.95 * rate_requested) {
      absl::StrAppend(&out, GeneratorBehind() && send_lag.Percentile(0.99) <= kBehindLagNanos
                                ? "WARNING: the achieved rate is short of the request and the "
                                  "generator's threads were busy all the time: the generator, "
                                  "not the server, limited this run (add --load_threads).\n"
                                : "NOTE: the achieved rate is short of the request: the server "
                                  "(or --max_in_flight) limited this run unless the warning "
                                  "above says the generator was late.\n");
    }
  }
  // In connect mode every connection is a new one; elsewhere a reconnect
  // follows a closing line (--reconnect) or a random disconnect.
  if (mode != Mode::kConnect && (reconnect || reconnects > 0)) {
    absl::StrAppendFormat(&out,
                          "reconnects:  %d (%d sessions in all; the server ended %d with a "
                          "closing line and refused %d as busy)\n",
                          reconnects, sessions, server_closed, busy);
  }
  if (reconnect) {
    // Under --reconnect a closing line (a restart's bye, a busy refusal) is
    // part of the run, shown above, not an error.
    absl::StrAppendFormat(&out,
                          "errors:      connect_failures %d  timeouts %d  mismatches %d  eofs %d  "
                          "resets %d\n",
                          connect_failures, timeouts, mismatches, eofs, resets);
  } else {
    absl::StrAppendFormat(&out,
                          "errors:      connect_failures %d  busy %d  timeouts %d  mismatches %d  "
                          "server_closed %d  eofs %d  resets %d\n",
                          connect_failures, busy, timeouts, mismatches, server_closed, eofs,
                          resets);
  }
  if (tls_full_handshakes + tls_resumed_handshakes > 0) {
    absl::StrAppendFormat(&out, "tls:         %d full handshakes, %d resumed\n",
                          tls_full_handshakes, tls_resumed_handshakes);
  }
  absl::StrAppend(&out, FramingHint());
  return out;
}

std::string LoadReport::ToJson() const {
  const Quantiles q = Of(latency);
  std::string out = absl::StrFormat(
      "{\"connections\":%d,\"established\":%d,\"served\":%d,\"round_trips\":%d,"
      "\"lines_sent\":%d,\"elapsed_s\":%.3f,\"rtt_per_s\":%.1f,\"mb_per_s\":%.3f,"
      "\"p50_us\":%.1f,\"p90_us\":%.1f,\"p99_us\":%.1f,\"p999_us\":%.1f,\"p9999_us\":%.1f,"
      "\"max_us\":%.1f,\"connect_failures\":%d,\"busy\":%d,\"timeouts\":%d,\"mismatches\":%d,"
      "\"server_closed\":%d,\"eofs\":%d,\"resets\":%d,\"sessions\":%d",
      connections_requested, connections_established, connections_served, round_trips,
      lines_sent, absl::ToDoubleSeconds(elapsed), round_trips_per_second(),
      megabytes_per_second(), q.p50, q.p90, q.p99, q.p999, q.p9999, q.max, connect_failures,
      busy, timeouts, mismatches, server_closed, eofs, resets, sessions);
  absl::StrAppendFormat(&out, ",\"reconnects\":%d,\"welcome_timeouts\":%d", reconnects,
                        welcome_timeouts);
  absl::StrAppendFormat(&out, ",\"tls_full_handshakes\":%d,\"tls_resumed_handshakes\":%d",
                        tls_full_handshakes, tls_resumed_handshakes);
  // "round_trips" and "rtt_per_s" stay for the readers that know them; in
  // connect mode they count connections, which these name plainly.
  if (mode == Mode::kConnect && rate_requested <= 0) {
    absl::StrAppendFormat(&out, ",\"connects\":%d,\"connects_per_s\":%.1f", round_trips,
                          round_trips_per_second());
  }
  absl::StrAppendFormat(&out, ",\"mode\":\"%s\"",
                        mode == Mode::kConnect ? "connect"
                        : mode == Mode::kIdle  ? "idle"
                                               : "pingpong");
  if (rate_requested > 0) {
    const Quantiles s = Of(service_latency);
    absl::StrAppendFormat(
        &out,
        ",\"rate_requested\":%.1f,\"replies_in_window\":%d,\"warmup_s\":%.3f,"
        "\"service_p50_us\":%.1f,"
        "\"service_p90_us\":%.1f,\"service_p99_us\":%.1f,\"service_p999_us\":%.1f,"
        "\"service_p9999_us\":%.1f,\"service_max_us\":%.1f,\"send_lag_p99_us\":%.1f,"
        "\"send_lag_max_us\":%.1f,\"lines_not_sent\":%d,\"generator_threads\":%d,"
        "\"generator_cpu_s\":%.3f,\"generator_spin_s\":%.3f,\"generator_ns_per_line\":%.0f,"
        "\"generator_behind\":%s",
        rate_requested, replies_in_window, absl::ToDoubleSeconds(warmup), s.p50, s.p90, s.p99,
        s.p999, s.p9999,
        s.max, Us(send_lag.Percentile(0.99)), Us(send_lag.max()), lines_not_sent,
        generator_threads, generator_cpu_s, generator_spin_s, generator_ns_per_line(),
        GeneratorBehind() ? "true" : "false");
  }
  absl::StrAppendFormat(&out, ",\"interrupted\":%s}", interrupted ? "true" : "false");
  return out;
}

}  // namespace client
