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
// Balance: dispatch gives each worker an equal share of sessions, but their
// activity can still be uneven (hot clients on one worker, or one worker's
// clients all gone). So after a turn, a worker hands one of its sessions to
// a peer that is asleep in epoll_wait, when it had to leave sessions ready
// but unserved (they used up their turn's share of reads), or when it holds
// at least two sessions more than that peer. The session moves with all its
// state (its socket leaves this epoll set and joins the peer's, which
// reports any input already waiting), at most once a second, one per turn:
// a worker never idles for long while another has ready sessions queued.
//
// Stop: Stop() rings the doorbell with the stop flag set; the worker tells
// every session to finish (answer what arrived, say goodbye, close by the
// grace deadline) and returns from Run() when the last one has ended.
//
// Thread safety: Run() is the thread body and owns everything but the
// doorbell, the inbox and the flags peers read; Assign(), Adopt(), Stop(),
// load() and asleep() may be called from any thread.

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
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

  // The pool's workers, this one included (for handing sessions over).
  // Before Run().
  void SetPeers(std::vector<EventWorker*> peers) { peers_ = std::move(peers); }

  // `n` more queued connections are this worker's to take.
  void Assign(int n);
  // Takes over a running session from a peer. False (the session is handed
  // back) once this worker has stopped taking sessions.
  bool Adopt(std::unique_ptr<Session>& session);
  // Sessions end by `grace_deadline`; Run() then returns.
  void Stop(absl::Time grace_deadline);
  // Sessions held plus connections assigned but not yet taken: what the
  // dispatcher balances.
  int64_t load() const { return load_.load(std::memory_order_relaxed); }
  // Waiting in epoll_wait with nothing to do.
  bool asleep() const { return asleep_.load(std::memory_order_relaxed); }

 private:
  struct Slot {
    std::unique_ptr<Session> session;
    uint32_t generation = 0;  // bumped when the slot is freed: stale ids miss
    Session::Interest interest = Session::Interest::kRead;
    bool parked = false;      // counted in WorkerCounters::parked
    DeadlineIndex::Entry timer;
    absl::Time arrived;       // on this worker (moves are rate-limited)
  };

  void Ring();
  void OnDoorbell(absl::Time now);
  void StartSession(Connection conn, absl::Time now);
  uint32_t NewSlot();
  // Watches `index`'s socket (fd) in this epoll set; false (errno set) if
  // the kernel refuses.
  bool Watch(uint32_t index, int fd);
  // Installs a session in a slot already watched and runs its first turn.
  void Install(uint32_t index, std::unique_ptr<Session> session, absl::Time now);
  void TakeInbox(absl::Time now);
  void ShareWork(absl::Time now);
  void HandOff(uint32_t index, EventWorker& to, absl::Time now);
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
  std::atomic<bool> asleep_{false};
  absl::Mutex inbox_mu_;
  std::vector<std::unique_ptr<Session>> inbox_ ABSL_GUARDED_BY(inbox_mu_);
  bool inbox_closed_ ABSL_GUARDED_BY(inbox_mu_) = false;
  std::vector<EventWorker*> peers_;  // set before Run(), then read-only

  // Owned by the worker thread.
  std::vector<Slot> slots_;
  std::vector<uint32_t> free_slots_;
  size_t live_ = 0;
  DeadlineIndex deadlines_;
  std::vector<uint64_t> due_;
  std::vector<uint64_t> yielded_;  // this turn: sessions left ready but unserved
  uint64_t last_driven_ = 0;       // this turn: the last session run
  absl::Time next_balance_check_;
  bool stopping_ = false;
  absl::Time grace_deadline_ = absl::InfiniteFuture();
};

}  // namespace server

#endif  // SERVER_EVENT_WORKER_H_
