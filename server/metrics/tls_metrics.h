#ifndef SERVER_METRICS_TLS_METRICS_H_
#define SERVER_METRICS_TLS_METRICS_H_

// TlsMetrics: the TLS layer's series, registered only when TLS is on, read
// at scrape time from the counters the handshakes keep anyway.
//
// Series:
//   echo_server_tls_handshakes_total{resumed}            "false" full, "true" by ticket
//   echo_server_tls_handshake_failures_total{reason}     timeout, closed, version, not_tls,
//                                                        client_certificate, protocol
//   echo_server_tls_certificate_expiry_seconds           the served certificate's notAfter,
//                                                        Unix seconds (alert on it - time())
//
// Thread safety: Collect() may run on several scraping threads at once; it
// only calls `snapshot`, which must be thread-safe.

#include <functional>
#include <vector>

#include "prometheus/collectable.h"
#include "prometheus/metric_family.h"
#include "server/tls/tls_context.h"

namespace server {

class TlsMetrics : public prometheus::Collectable {
 public:
  explicit TlsMetrics(std::function<TlsSnapshot()> snapshot);
  std::vector<prometheus::MetricFamily> Collect() const override;
  // The families for one snapshot, for tests.
  static std::vector<prometheus::MetricFamily> Families(const TlsSnapshot& s);

 private:
  const std::function<TlsSnapshot()> snapshot_;
};

}  // namespace server

#endif  // SERVER_METRICS_TLS_METRICS_H_
