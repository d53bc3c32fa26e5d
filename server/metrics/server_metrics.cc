#include "server/metrics/server_metrics.h"

#include <array>
#include <string>
#include <utility>

#include "server/metrics/metric_families.h"

namespace server {
namespace {

// A counter family with one sample per value of `Enum` (kCount of them),
// labelled `label` with the value's name.
template <typename Enum, size_t kCount>
prometheus::MetricFamily PerValueCounter(std::string name, std::string help, const char* label,
                                         absl::string_view (*name_of)(Enum),
                                         const std::array<int64_t, kCount>& values) {
  prometheus::MetricFamily family = CounterFamily(std::move(name), std::move(help));
  for (size_t i = 0; i < kCount; ++i) {
    AddSample(family, {{label, std::string(name_of(static_cast<Enum>(i)))}},
              static_cast<double>(values[i]));
  }
  return family;
}

}  // namespace

ServerMetrics::ServerMetrics(std::function<StatsSnapshot()> snapshot, int64_t max_connections)
    : snapshot_(std::move(snapshot)), max_connections_(max_connections) {}

std::vector<prometheus::MetricFamily> ServerMetrics::Collect() const {
  return Families(snapshot_(), max_connections_);
}

std::vector<prometheus::MetricFamily> ServerMetrics::Families(const StatsSnapshot& s,
                                                              int64_t max_connections) {
  auto d = [](int64_t v) { return static_cast<double>(v); };
  std::vector<prometheus::MetricFamily> out;
  out.push_back(CounterFamily("echo_server_connections_accepted_total",
                              "Connections accepted (served or turned away).", d(s.accepted)));
  out.push_back(PerValueCounter(
      "echo_server_connections_rejected_total",
      "Connections turned away with the busy line (or closed), by reason.", "reason",
      &RejectReasonName, s.rejected));
  out.push_back(GaugeFamily("echo_server_connections_open",
                            "Client connections held: queued or in a session.",
                            d(s.open_connections)));
  out.push_back(GaugeFamily("echo_server_connections_max",
                            "Most client connections held at once (--max_connections).",
                            d(max_connections)));
  out.push_back(GaugeFamily("echo_server_sessions_active", "Sessions owned by workers.",
                            d(s.active_sessions)));
  out.push_back(GaugeFamily("echo_server_sessions_parked",
                            "Sessions waiting for their client to send, without a thread.",
                            d(s.parked_sessions)));
  out.push_back(CounterFamily("echo_server_sessions_completed_total", "Sessions ended.",
                              d(s.sessions_completed)));
  out.push_back(GaugeFamily("echo_server_queue_depth",
                            "Accepted connections waiting for a worker to take them.",
                            d(s.queued_now)));
  out.push_back(CounterFamily("echo_server_lines_total", "Lines echoed.", d(s.lines_echoed)));
  out.push_back(CounterFamily("echo_server_bytes_total", "Payload bytes received and echoed.",
                              d(s.bytes_echoed)));
  out.push_back(CounterFamily("echo_server_idle_timeouts_total",
                              "Sessions closed for completing no line within the idle timeout.",
                              d(s.idle_timeouts)));
  out.push_back(PerValueCounter("echo_server_errors_total", "Sessions that ended badly, by kind.",
                                "kind", &ErrorKindName, s.errors));
  out.push_back(CounterFamily("echo_server_descriptor_exhaustion_episodes_total",
                              "Runs of accept() failing for lack of file descriptors.",
                              d(s.emfile_episodes)));
  out.push_back(CounterFamily("echo_server_shutdown_goodbyes_total",
                              "Shutdown lines sent to clients at shutdown.",
                              d(s.shutdown_goodbyes)));
  out.push_back(CounterFamily("echo_server_health_checks_total",
                              "Connections a proxy opened for itself (PROXY LOCAL: health "
                              "checks); not sessions, never errors.",
                              d(s.health_checks)));
  out.push_back(GaugeFamily("echo_server_workers", "Worker threads.", d(s.workers.size())));
  prometheus::MetricFamily worker_sessions =
      GaugeFamily("echo_server_worker_sessions", "Sessions each worker holds.");
  prometheus::MetricFamily busy = CounterFamily(
      "echo_server_worker_busy_seconds_total", "Time each worker spent running sessions.");
  prometheus::MetricFamily moved =
      CounterFamily("echo_server_worker_sessions_moved_total",
                    "Sessions each worker handed to a less busy one (event model).");
  for (size_t i = 0; i < s.workers.size(); ++i) {
    const prometheus::Labels worker = {{"worker", std::to_string(i)}};
    AddSample(worker_sessions, worker, d(s.workers[i].sessions));
    AddSample(busy, worker, static_cast<double>(s.workers[i].busy_ns) / 1e9);
    AddSample(moved, worker, d(s.workers[i].sessions_moved));
  }
  out.push_back(std::move(worker_sessions));
  out.push_back(std::move(busy));
  out.push_back(std::move(moved));
  out.push_back(HistogramFamily("echo_server_queue_wait_seconds",
                                "From accept to the session's first turn on a worker.",
                                s.queue_wait.upper_bounds, s.queue_wait.counts,
                                s.queue_wait.sum_seconds));
  out.push_back(HistogramFamily("echo_server_session_duration_seconds",
                                "From a session's first turn to its end.",
                                s.session_duration.upper_bounds, s.session_duration.counts,
                                s.session_duration.sum_seconds));
  return out;
}

}  // namespace server
