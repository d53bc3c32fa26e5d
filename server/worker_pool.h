#ifndef SERVER_WORKER_POOL_H_
#define SERVER_WORKER_POOL_H_

// WorkerPool: a fixed set of threads that take accepted connections off the
// bounded queue and run their sessions.
//
// Default model (one worker per session): a worker owns its session from
// welcome to close, waiting in poll() on that one socket plus the pool's stop
// descriptor. Simple and fast for few, busy clients; an idle client holds a
// worker until its idle timeout (the "keep-alive problem").
//
// Shutdown: Shutdown() notifies the stop descriptor, which every waiting
// worker polls, so workers blocked waiting for their clients wake at once.
// Each session then answers what it has already received, says goodbye and
// closes within the grace period, and the worker exits.
//
// Thread safety: Start() and Shutdown() are called by the owning thread;
// sessions are touched only by the worker running them.

#include <memory>
#include <thread>
#include <vector>

#include "absl/time/time.h"
#include "common/bounded_queue.h"
#include "common/wakeup_fd.h"
#include "server/connection.h"
#include "server/lingering_closer.h"
#include "server/session.h"
#include "server/stats.h"

namespace server {

class WorkerPool {
 public:
  // All pointers must outlive the pool.
  WorkerPool(int workers, common::BoundedQueue<Connection>* queue, const SessionConfig* config,
             Stats* stats, LingeringCloser* closer);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  void Start();

  // Stops every worker: queued connections stay in the (closed) queue; each
  // running session finishes by `grace_deadline`. Joins all threads.
  void Shutdown(absl::Time grace_deadline);

  int size() const { return workers_; }

 private:
  void WorkerLoop();
  void Serve(Connection conn, std::vector<char>& scratch);
  void Retire(Session& session);

  const int workers_;
  common::BoundedQueue<Connection>* const queue_;
  const SessionConfig* const config_;
  Stats* const stats_;
  LingeringCloser* const closer_;
  common::WakeupFd stop_;
  absl::Time grace_deadline_ = absl::InfiniteFuture();  // written before stop_ notifies
  std::vector<std::thread> threads_;
};

}  // namespace server

#endif  // SERVER_WORKER_POOL_H_
