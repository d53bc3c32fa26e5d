#ifndef SERVER_SERVER_H_
#define SERVER_SERVER_H_

// Server: owns the listening socket, the acceptor thread, the bounded
// hand-off queue, the worker pool, the lingering closer and the statistics,
// and runs the start-up and shutdown sequences.
//
//   clients ──► listener ──► Acceptor ──► BoundedQueue ──► WorkerPool ──► Session
//                             │  (full: busy line)         (event or    (echo)
//                             │                             classic)
//                             └──────────────► LingeringCloser ◄────────┘
//
// Operations: with --metrics_port (or --metrics_port_file) a MetricsEndpoint
// serves /metrics (ServerMetrics and the process_* series), /healthz (every
// worker's current turn is younger than a few seconds: none is wedged) and
// /readyz (accepting and not draining).
//
// Shutdown order: not ready any more; keep serving for --drain_delay_ms (a
// load balancer watching /readyz stops sending clients); stop accepting and
// close the listener; close the queue and tell each client still waiting in
// it goodbye; give running sessions the grace period; join every thread;
// stop the metrics endpoint; remove the port files it wrote; log the final
// stats.
//
// Thread safety: UseListener(), Start() and Shutdown() from one controlling
// thread; stats(), StatsLine(), port(), ready() and healthy() from any
// thread.

#include <sys/types.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "common/bounded_queue.h"
#include "server/acceptor.h"
#include "server/connection.h"
#include "server/lingering_closer.h"
#include "server/server_options.h"
#include "server/session/session.h"
#include "server/stats.h"
#include "server/tls/tls_context.h"
#include "server/worker_pool.h"

namespace server {

class MetricsEndpoint;  // server/metrics/metrics_endpoint.h: prometheus-cpp stays out of here

class Server {
 public:
  explicit Server(ServerOptions options);  // options must be Validate()d
  ~Server();                               // Shutdown()s if needed
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Serve on `listener` (already bound and listening, e.g. passed by systemd)
  // instead of binding --host/--port. Before Start().
  void UseListener(common::UniqueFd listener);

  // Binds, starts every thread, writes --port_file (last: its appearance
  // means "ready") and logs one start-up line. On error nothing is left
  // running.
  absl::Status Start();

  // Graceful stop as described above; returns when every thread has joined.
  // Idempotent.
  void Shutdown();

  // SIGHUP: re-reads the TLS certificate, key and client CA (TLS on); new
  // handshakes use them, running sessions go on; on error the previous ones
  // stay and the reason is logged. Main thread.
  void Reload();

  int port() const { return port_; }
  StatsSnapshot stats() const;
  // The stats line's text (StatsSnapshot::ToString), with rates since the
  // previous call (or since Start()); for the periodic line, SIGUSR1 and the
  // final line.
  std::string StatsLine();
  // Accepting clients, not draining: /readyz.
  bool ready() const { return ready_.load(std::memory_order_acquire); }
  // No worker is stuck in one turn: /healthz.
  bool healthy() const;

 private:
  absl::Status StartThreads(common::UniqueFd listener, long fd_limit);
  absl::Status StartMetrics();
  // The shutdown sequence for whatever has started (Shutdown() without its
  // log lines, also used when Start() fails half-way).
  void Stop();
  void StatsLoop();

  const ServerOptions options_;
  // Set when shutdown begins; sessions read it (before session_config_,
  // which points at it).
  std::atomic<bool> draining_{false};
  const SessionConfig session_config_;
  Stats stats_;
  // Set by Start() when TLS is on; outlives the sessions (the pool is
  // stopped before the server is destroyed).
  std::unique_ptr<TlsContext> tls_;
  common::BoundedQueue<Connection> queue_;
  std::unique_ptr<LingeringCloser> closer_;
  std::unique_ptr<WorkerPool> pool_;
  std::unique_ptr<Acceptor> acceptor_;
  common::UniqueFd inherited_listener_;
  common::WakeupFd stop_accepting_;
  std::atomic<bool> ready_{false};
  absl::Notification stopped_;
  std::thread acceptor_thread_;
  std::thread stats_thread_;
  int workers_ = 0;
  // --io as resolved at Start(): io_uring falls back to epoll if refused.
  common::IoBackend io_ = common::IoBackend::kIoUring;
  int64_t max_connections_ = 0;
  int port_ = 0;
  absl::Mutex stats_line_mu_;
  StatsSnapshot last_line_ ABSL_GUARDED_BY(stats_line_mu_);
  absl::Time last_line_at_ ABSL_GUARDED_BY(stats_line_mu_);
  ino_t port_file_inode_ = 0;  // 0: not written (yet); removed at the stop
  ino_t metrics_port_file_inode_ = 0;
  std::atomic<bool> running_{false};  // read by /healthz
  // Last, so it is destroyed first: no scrape reads the rest afterwards.
  std::unique_ptr<MetricsEndpoint> metrics_;
};

}  // namespace server

#endif  // SERVER_SERVER_H_
