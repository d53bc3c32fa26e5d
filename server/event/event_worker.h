#ifndef SERVER_EVENT_EVENT_WORKER_H_
#define SERVER_EVENT_EVENT_WORKER_H_

// EventWorker: one thread of the event model (--model=event): its own
// EventLoop, the sessions it took from the queue, and their deadlines. The
// loop does the waiting and dispatching; this class is the session policy:
// taking connections, running sessions fairly, sharing work with peers.
//
// A session is watched once, edge-triggered for both directions, on the
// worker that took it, and stays there until it ends or moves to a peer.
// Per round trip the worker does what the client's data requires and nothing
// more: one wait (shared by every session ready at the time), the session's
// read and write, no watch change, no lock, no shared cache line (its
// counters are its own). Session::Resume() honours the edge-triggered
// contract (common/poller.h).
//
// Fairness: a session runs at most once per turn, for at most its share of
// bytes (Session::kTurnBytes). One that used its share with input left says
// so with a deadline of `now`, and the loop runs it again on the next turn,
// after every session that became ready meanwhile, so a client pipelining as
// fast as it can delays the others by one share each, not by its backlog.
//
// Hand-off: the acceptor pushes connections into the shared bounded queue,
// then Assign()s a number of them to each worker (the pool decides how many,
// see EventPool) and wakes that worker's loop once per batch. The worker pops
// as many as it was assigned; which connections those are does not matter.
//
// Balance: dispatch gives each worker an equal share of sessions, but their
// activity can still be uneven (hot clients on one worker, or one worker's
// clients all gone). So after a turn, a worker hands one of its sessions to
// a peer that is asleep, when it had to leave sessions ready but unserved
// (they used up their share), or when it holds at least two sessions more
// than that peer. The session moves with all its state (its socket leaves
// this loop and joins the peer's, which reports any input already waiting),
// at most once a second, one per turn.
//
// Backends: the loop waits in epoll or io_uring (--io); the policy here is
// the same for both. On io_uring a plain session's transport is
// completion-based (server/session/uring_transport.h): its receives and
// sends run on the loop's ring, their completions are its readiness reports,
// and it stays on this worker (work sharing moves only watched sessions).
// A TLS session is watched through io_uring poll requests instead. io_uring
// watches outlive a close, so a watched socket is unwatched before it is
// closed or handed on, always from this thread.
//
// Stop: Stop() wakes the loop with the stop flag set; the worker tells every
// session to finish (answer what arrived, say goodbye, close by the grace
// deadline) and returns from Run() when the last one has ended.
//
// Thread safety: Run() is the thread body and owns everything but the
// loop's wake-up, the inbox and the counters peers read; Assign(), Adopt(),
// Stop(), load() and asleep() may be called from any thread.

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/deadline_index.h"
#include "common/event_loop.h"
#include "common/unique_fd.h"
#include "server/connection.h"
#include "server/session/session.h"
#include "server/stats.h"
#include "server/worker_pool.h"

namespace server {

class EventWorker : private common::EventLoop::Handler {
 public:
  // `deps` and `counters` must outlive the worker; `io` is its loop's backend.
  EventWorker(const WorkerPool::Deps& deps, WorkerCounters* counters,
              common::IoBackend io = common::IoBackend::kEpoll);
  EventWorker(const EventWorker&) = delete;
  EventWorker& operator=(const EventWorker&) = delete;

  // Creates the event loop; call once, before Run().
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
  // Waiting for events with nothing to do.
  bool asleep() const { return loop_->asleep(); }

 private:
  struct Slot {
    std::unique_ptr<Session> session;
    uint32_t generation = 0;  // bumped when the slot is freed: stale ids miss
    Session::Interest interest = Session::Interest::kRead;
    bool parked = false;      // counted in WorkerCounters::parked
    common::DeadlineIndex::Entry timer;
    absl::Time arrived;       // on this worker (moves are rate-limited)
    uint64_t driven_turn = 0;  // the loop turn it last ran in
  };

  // EventLoop::Handler.
  void OnTurnStart(absl::Time now) override;
  void OnWake(absl::Time now) override;
  void OnReady(uint64_t id, uint32_t readiness, absl::Time now) override;
  void OnDue(uint64_t id, absl::Time now) override;
  common::DeadlineIndex::Entry& TimerEntry(uint64_t id) override;
  void AfterTurn(absl::Time now) override;

  void NoticeStop(absl::Time now);
  void StartSession(Connection conn, absl::Time now);
  uint32_t NewSlot();
  // The transport for a session in `index`: completion-based on io_uring
  // (unless the server's transport is layered, as TLS is), else the pool's.
  std::unique_ptr<Transport> NewTransport(uint32_t index, common::UniqueFd socket);
  // Watches `index`'s socket (fd) in this worker's loop.
  absl::Status Watch(uint32_t index, int fd);
  // Installs a session in a slot already watched and runs its first turn.
  void Install(uint32_t index, std::unique_ptr<Session> session, absl::Time now);
  void TakeInbox(absl::Time now);
  void ShareWork(absl::Time now);
  void HandOff(uint32_t index, EventWorker& to, absl::Time now);
  void Drive(uint32_t index, absl::Time now);
  // The session in `index` has ended here: retire it (Release) or it moved
  // to a peer (HandOff); both then give the slot back with FreeSlot.
  void Release(uint32_t index, absl::Time now);
  void FreeSlot(uint32_t index);
  void BeginStop(absl::Time now);
  Slot* Find(uint64_t id);
  uint64_t IdOf(uint32_t index) const;

  const WorkerPool::Deps deps_;
  WorkerCounters* const counters_;
  const common::IoBackend io_;
  WorkerContext context_;
  std::unique_ptr<common::EventLoop> loop_;
  bool completions_ = false;  // sessions use UringTransport (set by Init)

  // Shared with other threads.
  std::atomic<int64_t> load_{0};
  std::atomic<int64_t> assigned_{0};
  std::atomic<bool> stop_requested_{false};
  std::atomic<int64_t> grace_deadline_ns_{0};
  absl::Mutex inbox_mu_;
  std::vector<std::unique_ptr<Session>> inbox_ ABSL_GUARDED_BY(inbox_mu_);
  bool inbox_closed_ ABSL_GUARDED_BY(inbox_mu_) = false;
  std::vector<EventWorker*> peers_;  // set before Run(), then read-only

  // Owned by the worker thread.
  std::vector<Slot> slots_;
  std::vector<uint32_t> free_slots_;
  size_t live_ = 0;
  std::vector<uint64_t> yielded_;  // this turn: sessions left ready but unserved
  uint64_t last_driven_ = 0;       // this turn: the last session run
  absl::Time next_balance_check_;
  bool stopping_ = false;
  absl::Time grace_deadline_ = absl::InfiniteFuture();
};

}  // namespace server

#endif  // SERVER_EVENT_EVENT_WORKER_H_
