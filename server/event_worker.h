#ifndef SERVER_EVENT_WORKER_H_
#define SERVER_EVENT_WORKER_H_

// EventWorker: one thread of the event model (--model=event): its own epoll
// set, the sessions it took from the queue, and their deadlines.
//
// A session is registered once, edge-triggered for both directions, on the
// worker that took it, and stays there until it ends. Per round trip the
// worker does what the client's data requires and nothing more: one
// epoll_wait (shared by every session ready at the time), the session's recv
// and send, no epoll_ctl, no lock, no shared cache line (its counters are its
// own). Edge-triggered readiness fits the session's contract: Resume() runs
// until the socket would block (or reports the short read that proves it
// drained), so every later arrival raises a new edge. A session that yields
// with input left (its fair share per turn is used up) is re-run on the next
// turn through its deadline, not through a new edge.
//
// Hand-off: the acceptor pushes connections into the shared bounded queue,
// then Assign()s each to one worker and rings that worker's doorbell (an
// eventfd in its epoll set) once per batch. The worker pops as many as it
// was assigned. Nothing else is shared between workers.
//
// Stop: Stop() rings the doorbell with the stop flag set; the worker tells
// every session to finish (answer what arrived, say goodbye, close by the
// grace deadline) and returns from Run() when the last one has ended.
//
// Thread safety: Run() is the thread body and owns everything but the
// doorbell; Assign(), Stop() and load() may be called from any thread.

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/unique_fd.h"
#include "server/connection.h"
#include "server/deadline_index.h"
#include "server/session.h"
#include "server/stats.h"
#include "server/worker_pool.h"

namespace server {

class EventWorker {
 public:
  // `deps` and `counters` must outlive the worker.
  EventWorker(const WorkerPool::Deps& deps, WorkerCounters* counters);
  EventWorker(const EventWorker&) = delete;
  EventWorker& operator=(const EventWorker&) = delete;

  // Creates the epoll set and the doorbell; call once, before Run().
  absl::Status Init();

  // The thread body: serves until Stop() and the end of its last session.
  void Run();

  // `n` more queued connections are this worker's to take.
  void Assign(int n);
  // Sessions end by `grace_deadline`; Run() then returns.
  void Stop(absl::Time grace_deadline);
  // Sessions held plus connections assigned but not yet taken: what the
  // dispatcher balances.
  int64_t load() const { return load_.load(std::memory_order_relaxed); }

 private:
  struct Slot {
    std::unique_ptr<Session> session;
    uint32_t generation = 0;  // bumped when the slot is freed: stale ids miss
    Session::Interest interest = Session::Interest::kRead;
    bool parked = false;      // counted in WorkerCounters::parked
    DeadlineIndex::Entry timer;
  };

  void OnDoorbell(absl::Time now);
  void StartSession(Connection conn, absl::Time now);
  void OnSessionEvent(uint64_t id, uint32_t events, absl::Time now);
  void RunDue(absl::Time now);
  void Drive(uint32_t index, absl::Time now);
  void Release(uint32_t index, absl::Time now);
  void BeginStop(absl::Time now);
  Slot* Find(uint64_t id);
  uint64_t IdOf(uint32_t index) const;

  const WorkerPool::Deps deps_;
  WorkerCounters* const counters_;
  WorkerContext context_;
  common::UniqueFd epoll_;
  common::UniqueFd doorbell_;  // eventfd: assignments and stop

  // Shared with other threads.
  std::atomic<int64_t> load_{0};
  std::atomic<int64_t> assigned_{0};
  std::atomic<bool> stop_requested_{false};
  std::atomic<int64_t> grace_deadline_ns_{0};

  // Owned by the worker thread.
  std::vector<Slot> slots_;
  std::vector<uint32_t> free_slots_;
  size_t live_ = 0;
  DeadlineIndex deadlines_;
  std::vector<uint64_t> due_;
  bool stopping_ = false;
  absl::Time grace_deadline_ = absl::InfiniteFuture();
};

}  // namespace server

#endif  // SERVER_EVENT_WORKER_H_
