#ifndef SERVER_ACCEPTOR_H_
#define SERVER_ACCEPTOR_H_

// Acceptor: the one thread that accepts connections and hands them to the
// workers through the bounded queue, applying the admission limits.
//
// Per wake-up it takes every pending connection (accept4 until EAGAIN, up to
// a batch limit so a stop is noticed), pushes each into the queue, and then
// tells the pool once (WorkerPool::OnQueued), so a burst of clients costs
// one wake-up per worker, not one per client. Admission, in order:
//  * --max_connections: the total of client sessions held (queued or
//    served) is capped; a client beyond it is told busy and closed (the event
//    model has no other bound on the number of sessions).
//  * the overload policy, when the queue is full. reject: answer the busy
//    line and close (via the LingeringCloser, so the line arrives). block:
//    wait for queue space *before* accept(), so excess clients wait in the
//    kernel's listen backlog (and time out there if it stays full).
//    In the event model a full queue is not overload: its workers take every
//    connection without waiting for any client, so a burst that outruns
//    them only makes the acceptor hand over what it has and wait for room
//    (the rest wait in the backlog for those few microseconds). There the
//    server is full only at --max_connections.
//
// Out of file descriptors (EMFILE/ENFILE): the listener stays readable, so a
// naive loop spins at 100% CPU. This one keeps a reserved descriptor: it
// releases it, accepts the waiting client, tells it "busy" and closes it at
// once (lingering would need the descriptor we lack), then re-reserves
// (libev's "special problem of accept()ing when you can't", as in muduo). If
// even that fails it backs off 10 ms -> 100 ms, and re-opens the reserve as
// soon as it can; once nothing is waiting it watches the listener again
// without delay. An episode ends when an accept succeeds; each is counted and
// logged once.
//
// Thread safety: Run() is the thread body; everything else it touches
// (queue, pool, closer, stats, stop) is itself thread-safe.

#include <cstdint>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/bounded_queue.h"
#include "common/unique_fd.h"
#include "common/wakeup_fd.h"
#include "server/connection.h"
#include "server/lingering_closer.h"
#include "server/server_options.h"
#include "server/stats.h"
#include "server/worker_pool.h"

namespace server {

class Acceptor {
 public:
  struct Limits {
    OverloadPolicy policy = OverloadPolicy::kReject;
    Framing framing = Framing::kLine;
    int64_t max_connections = 0;
    // Wait for room when the queue is full instead of applying the policy
    // (the event model; see above).
    bool queue_full_waits = false;
    // Connections come from a proxy (their client is named in a PROXY
    // header the session reads): logs say so.
    bool proxy_protocol = false;
  };

  // The pointers must outlive the acceptor.
  Acceptor(common::UniqueFd listener, const Limits& limits,
           common::BoundedQueue<Connection>* queue, WorkerPool* pool, LingeringCloser* closer,
           Stats* stats);
  Acceptor(const Acceptor&) = delete;
  Acceptor& operator=(const Acceptor&) = delete;

  // Accepts until `stop` is notified (or, under `block`, the queue closes).
  // Closes the listener before returning, so new clients are refused at once.
  void Run(const common::WakeupFd& stop);

 private:
  enum class Accepted { kOne, kNoneLeft, kFailed };

  // Accepts one connection and admits or rejects it. `queued` counts pushes
  // not yet announced to the pool.
  Accepted AcceptOne(int& queued);
  void Admit(common::UniqueFd socket, int& queued);
  void Reject(common::UniqueFd socket, RejectReason reason, bool linger);
  // Sheds one waiting client if the reserve allows (true), else backs off.
  bool OnFdExhausted(int err);
  void EndFdEpisode();

  common::UniqueFd listener_;
  const Limits limits_;
  common::BoundedQueue<Connection>* const queue_;
  WorkerPool* const pool_;
  LingeringCloser* const closer_;
  Stats* const stats_;
  common::UniqueFd reserve_;  // spare descriptor for the EMFILE trick
  bool fd_episode_ = false;
  absl::Duration backoff_ = absl::ZeroDuration();
};

}  // namespace server

#endif  // SERVER_ACCEPTOR_H_
