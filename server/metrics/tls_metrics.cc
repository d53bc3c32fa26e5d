#include "server/metrics/tls_metrics.h"

#include <string>
#include <utility>

#include "server/metrics/metric_families.h"

namespace server {

TlsMetrics::TlsMetrics(std::function<TlsSnapshot()> snapshot) : snapshot_(std::move(snapshot)) {}

std::vector<prometheus::MetricFamily> TlsMetrics::Collect() const { return Families(snapshot_()); }

std::vector<prometheus::MetricFamily> TlsMetrics::Families(const TlsSnapshot& s) {
  std::vector<prometheus::MetricFamily> out;
  prometheus::MetricFamily handshakes =
      CounterFamily("echo_server_tls_handshakes_total",
                    "TLS handshakes completed, full or resumed (session ticket).");
  AddSample(handshakes, {{"resumed", "false"}}, static_cast<double>(s.full_handshakes));
  AddSample(handshakes, {{"resumed", "true"}}, static_cast<double>(s.resumed_handshakes));
  out.push_back(std::move(handshakes));
  prometheus::MetricFamily failures = CounterFamily(
      "echo_server_tls_handshake_failures_total", "TLS handshakes that failed, by reason.");
  for (int i = 0; i < kHandshakeFailureKinds; ++i) {
    AddSample(failures, {{"reason", HandshakeFailureName(static_cast<HandshakeFailure>(i))}},
              static_cast<double>(s.failures[i]));
  }
  out.push_back(std::move(failures));
  out.push_back(GaugeFamily("echo_server_tls_certificate_expiry_seconds",
                            "When the served certificate expires (notAfter), in Unix seconds.",
                            static_cast<double>(s.certificate_not_after)));
  return out;
}

}  // namespace server
