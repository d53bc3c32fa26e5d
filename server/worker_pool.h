#ifndef SERVER_WORKER_POOL_H_
#define SERVER_WORKER_POOL_H_

// WorkerPool: a fixed set of threads that take accepted connections off the
// bounded queue and run their sessions.
//
// Two scheduling models run the same Session state machine:
//
// * One worker per session (default): a worker owns its session from welcome
//   to close, waiting in poll() on that one socket plus the pool's stop
//   descriptor. Simple and fast for few, busy clients; an idle client holds
//   a worker until its idle timeout (the "keep-alive problem").
//
// * Parked sessions (--park_idle_sessions): all workers wait on one shared
//   epoll set holding every session's socket (one-shot), the queue's
//   readiness eventfd and the stop descriptor. A worker runs whatever is
//   ready: a new connection from the queue, or a session whose socket became
//   ready or whose deadline passed (see ParkingLot). When a session would
//   block it is parked again and the worker moves on, so idle clients cost
//   memory, not threads. No hand-off per message: the worker that epoll
//   wakes is the one that answers.
//
// Shutdown: Shutdown() notifies the stop descriptor, which every waiting
// worker polls, so workers blocked waiting for clients wake at once. Each
// session then answers what it has already received, says goodbye and closes
// within the grace period, and the workers exit.
//
// Thread safety: Start() and Shutdown() are called by the owning thread;
// sessions are touched only by the worker running them.

#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include "absl/time/time.h"
#include "common/bounded_queue.h"
#include "common/unique_fd.h"
#include "common/wakeup_fd.h"
#include "server/connection.h"
#include "server/lingering_closer.h"
#include "server/parking_lot.h"
#include "server/session.h"
#include "server/stats.h"

namespace server {

class WorkerPool {
 public:
  // All pointers must outlive the pool. With `park_idle_sessions` the queue
  // must be pollable.
  WorkerPool(int workers, bool park_idle_sessions, common::BoundedQueue<Connection>* queue,
             const SessionConfig* config, Stats* stats, LingeringCloser* closer);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  void Start();

  // Stops every worker: queued connections stay in the (closed) queue; each
  // running session finishes by `grace_deadline`. Joins all threads.
  void Shutdown(absl::Time grace_deadline);

  int size() const { return workers_; }
  // Sessions currently parked (always 0 in the one-worker-per-session model).
  size_t parked() const { return lot_ ? lot_->parked() : 0; }

 private:
  // One worker per session.
  void WorkerLoop();
  void Serve(Connection conn, std::vector<char>& scratch);
  // Parked sessions.
  void ParkedWorkerLoop();
  void StartParked(Connection conn, absl::Span<char> scratch);
  void Drive(uint64_t id, Session* session, absl::Span<char> scratch);
  void ExitIfDrained();

  void Retire(Session& session);
  bool stopping() const { return stop_.notified(); }

  const int workers_;
  const bool park_;
  common::BoundedQueue<Connection>* const queue_;
  const SessionConfig* const config_;
  Stats* const stats_;
  LingeringCloser* const closer_;
  common::WakeupFd stop_;
  absl::Time grace_deadline_ = absl::InfiniteFuture();  // written before stop_ notifies
  std::vector<std::thread> threads_;

  // Parked model only.
  common::UniqueFd epoll_;
  std::unique_ptr<ParkingLot> lot_;
  common::WakeupFd exit_;              // all sessions done after stop: workers leave
  std::atomic<int> starting_{0};       // workers between queue pop and lot_->Add
};

}  // namespace server

#endif  // SERVER_WORKER_POOL_H_
