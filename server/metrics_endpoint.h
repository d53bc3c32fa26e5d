#ifndef SERVER_METRICS_ENDPOINT_H_
#define SERVER_METRICS_ENDPOINT_H_

// MetricsEndpoint: the server's HTTP port for operations.
//
//   GET /metrics  Prometheus text format: the endpoint's registry (metric
//                 objects the owner creates with prometheus-cpp's builders)
//                 plus every Collectable the owner registers, collected at
//                 scrape time; gzip-compressed when the scraper asks.
//   GET /healthz  200 "ok\n" while options.healthy() is true, else 503
//                 "unhealthy\n": is this process worth keeping alive?
//   GET /readyz   200 "ready\n" while options.ready() is true, else 503
//                 "draining\n": should new clients be sent here? (false
//                 before the server listens and once shutdown has begun).
//   HEAD on the two probes answers the same status without a body.
//
// It is prometheus-cpp's Exposer (pull module): a civetweb HTTP server with
// its own threads on its own port, apart from the echo port, so scrapes and
// probes never take a worker from clients, and the port can stay on loopback
// when the echo port does not. The probes are CivetHandlers added to the
// Exposer's civetweb server.
//
// Typical use by the server's owner:
//
//   MetricsEndpoint::Options options;
//   options.port = 9888;
//   options.healthy = [] { return true; };
//   options.ready = [&server] { return server.accepting(); };
//   absl::StatusOr<std::unique_ptr<MetricsEndpoint>> endpoint =
//       MetricsEndpoint::Start(std::move(options));
//   if (!endpoint.ok()) return endpoint.status();  // port in use, bad address
//   (*endpoint)->RegisterCollectable(std::make_shared<ProcessMetrics>());
//   (*endpoint)->RegisterCollectable(std::make_shared<EchoStatsCollectable>(&stats));
//
// where EchoStatsCollectable is a prometheus::Collectable whose Collect()
// reads the server's own counters and returns families built with
// server/metric_families.h (see there).
//
// Lifetime: the destructor first stops civetweb (joining its threads, so no
// scrape or probe runs afterwards), then releases the collectables. A
// collectable or callback may therefore point at state the owner keeps (the
// server's Stats) as long as the endpoint is destroyed before that state.
//
// Thread safety: every public method may be called from any thread. The
// callbacks and each registered Collectable's Collect() run on civetweb's
// threads, up to options.threads of them at once: they must be thread-safe
// and quick (atomic loads, not locks held across I/O).

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "prometheus/collectable.h"
#include "prometheus/exposer.h"
#include "prometheus/registry.h"

namespace server {

class MetricsEndpoint {
 public:
  struct Options {
    // A numeric IPv4 or IPv6 address, without brackets ("::1", not "[::1]").
    // Loopback by default, like the echo port. "0.0.0.0" listens on every
    // IPv4 address, "::" on every IPv6 one.
    std::string host = "127.0.0.1";
    // 0 picks any free port; port() tells which.
    int port = 9888;
    // civetweb worker threads: how many connections are served at once
    // (each holds one until its request is done, or for at most 2 s). More
    // than a scraper and two probes need, so a few idle connections to the
    // port do not keep /healthz from answering.
    int threads = 8;
    // Liveness and readiness. Both required; see the thread-safety note.
    std::function<bool()> healthy;
    std::function<bool()> ready;
  };

  // Binds and starts serving. InvalidArgument for a host that is not a
  // numeric address or a port or thread count out of range; Unavailable
  // (with civetweb's reason, e.g. "Address already in use") if the address
  // cannot be bound. Missing callbacks are a programmer error (CHECK).
  static absl::StatusOr<std::unique_ptr<MetricsEndpoint>> Start(Options options);

  ~MetricsEndpoint();
  MetricsEndpoint(const MetricsEndpoint&) = delete;
  MetricsEndpoint& operator=(const MetricsEndpoint&) = delete;

  // The bound port (the kernel's choice when options.port was 0).
  int port() const { return port_; }

  // "host:port" as bound, with IPv6 hosts in brackets; for logs.
  const std::string& address() const { return address_; }

  // Served at /metrics. Families and metrics added with prometheus-cpp's
  // builders (BuildCounter().Name(...).Register(registry())) live as long
  // as this endpoint.
  prometheus::Registry& registry() { return *registry_; }

  // Serves `collectable`'s families at /metrics from the next scrape on. The
  // endpoint keeps it alive until RemoveCollectable or destruction. Register
  // each collectable once.
  void RegisterCollectable(std::shared_ptr<prometheus::Collectable> collectable);

  // Stops serving `collectable`. When this returns, no scrape is inside its
  // Collect() and none will start, so the caller may destroy what it reads.
  void RemoveCollectable(const std::shared_ptr<prometheus::Collectable>& collectable);

 private:
  class ProbeHandler;  // a CivetHandler; defined in the .cc

  MetricsEndpoint(std::unique_ptr<ProbeHandler> healthz, std::unique_ptr<ProbeHandler> readyz);

  const std::shared_ptr<prometheus::Registry> registry_;
  const std::unique_ptr<ProbeHandler> healthz_;
  const std::unique_ptr<ProbeHandler> readyz_;
  absl::Mutex mu_;
  std::vector<std::shared_ptr<prometheus::Collectable>> collectables_ ABSL_GUARDED_BY(mu_);
  int port_ = 0;
  std::string address_;
  // Declared last, so destroyed first: civetweb's threads stop before the
  // handlers, the registry and the collectables they use go away.
  std::unique_ptr<prometheus::Exposer> exposer_;
};

}  // namespace server

#endif  // SERVER_METRICS_ENDPOINT_H_
