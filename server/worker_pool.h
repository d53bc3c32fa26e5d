#ifndef SERVER_WORKER_POOL_H_
#define SERVER_WORKER_POOL_H_

// WorkerPool: the fixed set of threads that take accepted connections off the
// bounded queue and run their sessions. Two scheduling models implement it,
// both running the same Session state machine:
//
//  * EventPool (--model=event, the default): each worker owns an epoll set
//    and multiplexes every session it took; an idle session costs memory,
//    not a thread.
//  * ClassicPool (--model=classic): each worker owns one session from
//    welcome to close, blocking in poll() on that one socket.
//
// The acceptor pushes connections into the shared BoundedQueue and then
// calls OnQueued() once per batch; each model decides how its workers learn
// of them.
//
// Thread safety: Start() and Shutdown() are called by the owning thread;
// OnQueued() by the acceptor; counters() from any thread.

#include <functional>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/bounded_queue.h"
#include "server/connection.h"
#include "server/lingering_closer.h"
#include "common/unique_fd.h"
#include "server/session/session.h"
#include "server/session/transport.h"
#include "server/stats.h"

namespace server {

class WorkerPool {
 public:
  // What every pool works with; all must outlive it.
  struct Deps {
    common::BoundedQueue<Connection>* queue;
    const SessionConfig* config;
    Stats* stats;
    LingeringCloser* closer;
    // Wraps each new connection's socket in the transport its session talks
    // over (TLS, when configured); empty: a plain SocketTransport. Called on
    // worker threads, so it must be thread-safe.
    std::function<std::unique_ptr<Transport>(common::UniqueFd)> make_transport = nullptr;
  };

  virtual ~WorkerPool() = default;
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Starts every worker thread. On failure (the kernel refused a thread, an
  // epoll set or an eventfd) returns the error with no thread left running.
  virtual absl::Status Start() = 0;

  // `n` connections were just pushed into the queue.
  virtual void OnQueued(int n) = 0;

  // Stops every worker: connections still in the (closed) queue stay there;
  // each running session answers what it has received, says goodbye and is
  // closed by `grace_deadline`. Joins all threads. Call once, after Start().
  virtual void Shutdown(absl::Time grace_deadline) = 0;

  int size() const { return static_cast<int>(counters_.size()); }
  // Each worker's counters, for the stats line and metrics.
  std::vector<const WorkerCounters*> counters() const;

 protected:
  WorkerPool(int workers, const Deps& deps);

  WorkerCounters& counters(int worker) { return *counters_[worker]; }

  const Deps deps_;

 private:
  std::vector<std::unique_ptr<WorkerCounters>> counters_;
};

// The transport for a new connection's session (Deps::make_transport).
std::unique_ptr<Transport> MakeTransport(const WorkerPool::Deps& deps, common::UniqueFd socket);

// A session that ended at `now` (its Resume() returned kDone), on the worker
// whose `counters` held it: hands its socket to the lingering closer if the
// server spoke last (else it closes with the session), and counts it as
// completed, or as a health check. The caller then destroys the session,
// which gives its place in the connection count back (AdmissionTicket), and
// updates its own share of WorkerCounters::sessions.
void RetireSession(Session& session, const WorkerPool::Deps& deps, WorkerCounters& counters,
                   absl::Time now);

}  // namespace server

#endif  // SERVER_WORKER_POOL_H_
