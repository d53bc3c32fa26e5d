#ifndef SERVER_METRICS_METRICS_ENDPOINT_H_
#define SERVER_METRICS_METRICS_ENDPOINT_H_

// MetricsEndpoint: the server's HTTP port for operations.
//
//   GET /metrics  Prometheus text format (text/plain; version=0.0.4): the
//                 endpoint's registry (metric objects the owner creates with
//                 prometheus-cpp's builders) plus every Collectable the owner
//                 registers, collected at scrape time and written by
//                 prometheus-cpp's TextSerializer. Never compressed
//                 (Prometheus does not need it; the text is a few KiB).
//   GET /healthz  200 "ok\n" while options.healthy() is true, else 503
//                 "unhealthy\n": is this process worth keeping alive?
//   GET /readyz   200 "ready\n" while options.ready() is true, else 503
//                 "draining\n": should new clients be sent here? (false
//                 before the server listens and once shutdown has begun).
//   HEAD on each answers the same status and headers without a body.
//
// It is an HttpServer (server/http/http_server.h): one event-loop thread on
// its own port, apart from the echo port, so scrapes and probes never take a
// worker from clients, and the port can stay on loopback when the echo port
// does not. One thread multiplexes every connection, so idle or slow
// connections to the port (up to options.max_connections, after which the
// oldest idle one is closed) cannot keep a probe from being answered;
// connections without a complete request for options.header_timeout are
// closed.
//
// Typical use by the server's owner:
//
//   MetricsEndpoint::Options options;
//   options.port = 9888;
//   options.healthy = [&server] { return server.healthy(); };
//   options.ready = [&server] { return server.ready(); };
//   absl::StatusOr<std::unique_ptr<MetricsEndpoint>> endpoint =
//       MetricsEndpoint::Start(std::move(options));
//   if (!endpoint.ok()) return endpoint.status();  // port in use, bad address
//   (*endpoint)->RegisterCollectable(std::make_shared<ProcessMetrics>());
//   (*endpoint)->RegisterCollectable(std::make_shared<ServerMetrics>(
//       [&server] { return server.stats(); }, max_connections));
//
// where ServerMetrics (server/metrics/server_metrics.h) is a
// prometheus::Collectable whose Collect() reads the server's own counters
// and returns families built with server/metrics/metric_families.h.
//
// Lifetime: the destructor first stops the HTTP server (joining its thread,
// so no scrape or probe runs afterwards), then releases the collectables. A
// collectable or callback may therefore point at state the owner keeps (the
// server's Stats) as long as the endpoint is destroyed before that state.
//
// Thread safety: every public method may be called from any thread. The
// callbacks and each registered Collectable's Collect() run on the HTTP
// server's one thread: they must be thread-safe and quick (atomic loads, not
// locks held across I/O), since every other request waits while they run.

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "prometheus/collectable.h"
#include "prometheus/registry.h"
#include "server/http/http_server.h"

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
    // Connections held at once; one more closes the oldest idle one.
    int max_connections = 4096;
    // A connection that has not sent a complete request this long after it
    // was accepted or last answered is closed (slowloris, idle keep-alive).
    absl::Duration header_timeout = absl::Seconds(10);
    // Liveness and readiness. Both required; see the thread-safety note.
    std::function<bool()> healthy;
    std::function<bool()> ready;
  };

  // Binds and starts serving. InvalidArgument for a host that is not a
  // numeric address or a port or connection cap out of range; Unavailable
  // (with the kernel's reason, e.g. "Address already in use") if the address
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
  MetricsEndpoint();

  // The /metrics body: every family of the registry and the collectables.
  std::string Scrape();

  const std::shared_ptr<prometheus::Registry> registry_;
  absl::Mutex mu_;
  // Held while a scrape collects, so RemoveCollectable waits for it.
  std::vector<std::shared_ptr<prometheus::Collectable>> collectables_ ABSL_GUARDED_BY(mu_);
  int port_ = 0;
  std::string address_;
  // Declared last, so destroyed first: its thread stops before the registry
  // and the collectables it reads go away.
  std::unique_ptr<HttpServer> http_;
};

}  // namespace server

#endif  // SERVER_METRICS_METRICS_ENDPOINT_H_
