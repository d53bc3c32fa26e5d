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
// Shutdown order: stop accepting and close the listener; close the queue and
// tell each client still waiting in it goodbye; give running sessions the
// grace period; join every thread; log the final stats.
//
// Thread safety: Start() and Shutdown() from one controlling thread;
// stats() and port() from any thread.

#include <memory>
#include <thread>

#include "absl/status/status.h"
#include "absl/synchronization/notification.h"
#include "common/bounded_queue.h"
#include "server/acceptor.h"
#include "server/connection.h"
#include "server/lingering_closer.h"
#include "server/server_options.h"
#include "server/session.h"
#include "server/stats.h"
#include "server/worker_pool.h"

namespace server {

class Server {
 public:
  explicit Server(ServerOptions options);  // options must be Validate()d
  ~Server();                               // Shutdown()s if needed
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds, starts every thread, writes --port_file (last: its appearance
  // means "ready") and logs one start-up line. On error nothing is left
  // running.
  absl::Status Start();

  // Graceful stop as described above; returns when every thread has joined.
  // Idempotent.
  void Shutdown();

  int port() const { return port_; }
  StatsSnapshot stats() const;

 private:
  absl::Status StartThreads(common::UniqueFd listener, long fd_limit);
  // The shutdown sequence for whatever has started (Shutdown() without its
  // log lines, also used when Start() fails half-way).
  void Stop();
  void StatsLoop();

  const ServerOptions options_;
  const SessionConfig session_config_;
  Stats stats_;
  common::BoundedQueue<Connection> queue_;
  std::unique_ptr<LingeringCloser> closer_;
  std::unique_ptr<WorkerPool> pool_;
  std::unique_ptr<Acceptor> acceptor_;
  common::WakeupFd stop_accepting_;
  absl::Notification stopped_;
  std::thread acceptor_thread_;
  std::thread stats_thread_;
  int workers_ = 0;
  int64_t max_connections_ = 0;
  int port_ = 0;
  bool running_ = false;
};

}  // namespace server

#endif  // SERVER_SERVER_H_
