#ifndef SERVER_METRICS_SERVER_METRICS_H_
#define SERVER_METRICS_SERVER_METRICS_H_

// ServerMetrics: the server's counters as Prometheus series, built at scrape
// time from the same StatsSnapshot the periodic stats line prints, so the
// hot path keeps its relaxed per-worker counters and pays nothing per line
// for being scraped.
//
// Series (counters end in _total, durations are seconds):
//   echo_server_connections_accepted_total
//   echo_server_connections_rejected_total{reason}   queue_full, max_connections,
//                                                    no_descriptors, epoll_registration,
//                                                    proxy_missing, proxy_malformed,
//                                                    proxy_timeout
//   echo_server_connections_open                      held now: queued + in sessions
//   echo_server_connections_max                       --max_connections, resolved
//   echo_server_sessions_active
//   echo_server_sessions_parked                       of those, waiting for the client to
//                                                    send (no reply pending, no turn used)
//   echo_server_sessions_completed_total
//   echo_server_queue_depth
//   echo_server_lines_total, echo_server_bytes_total
//   echo_server_idle_timeouts_total
//   echo_server_errors_total{kind}                   line_too_long, write_timeout,
//                                                    slow_reader, connection_reset
//   echo_server_descriptor_exhaustion_episodes_total
//   echo_server_shutdown_goodbyes_total
//   echo_server_health_checks_total                  PROXY LOCAL connections (not sessions)
//   echo_server_workers
//   echo_server_worker_sessions{worker}
//   echo_server_worker_busy_seconds_total{worker}
//   echo_server_worker_sessions_moved_total{worker}  handed to a less busy peer
//   echo_server_queue_wait_seconds                   histogram: accepted -> first turn
//   echo_server_session_duration_seconds             histogram: first turn -> end
//
// Thread safety: Collect() may run on several scraping threads at once; it
// only calls `snapshot`, which must be thread-safe.

#include <cstdint>
#include <functional>
#include <vector>

#include "prometheus/collectable.h"
#include "prometheus/metric_family.h"
#include "server/stats.h"

namespace server {

class ServerMetrics : public prometheus::Collectable {
 public:
  ServerMetrics(std::function<StatsSnapshot()> snapshot, int64_t max_connections);

  std::vector<prometheus::MetricFamily> Collect() const override;

  // The families for one snapshot (what Collect() returns), for tests.
  static std::vector<prometheus::MetricFamily> Families(const StatsSnapshot& s,
                                                        int64_t max_connections);

 private:
  const std::function<StatsSnapshot()> snapshot_;
  const int64_t max_connections_;
};

}  // namespace server

#endif  // SERVER_METRICS_SERVER_METRICS_H_
