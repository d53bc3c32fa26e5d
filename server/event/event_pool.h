#ifndef SERVER_EVENT_EVENT_POOL_H_
#define SERVER_EVENT_EVENT_POOL_H_

// EventPool: the event model (--model=event, the default). N EventWorkers,
// each on its own thread running its own EventLoop; a session lives on the
// worker that took it from the queue until it ends, so nothing is shared per
// round trip and an idle client costs memory, not a thread.
//
// Dispatch (OnQueued(n)) assigns counts, not connections: it decides how many
// of the n just queued each worker takes (fewest sessions first, ties rotate)
// and rings each chosen worker's doorbell once per batch; the worker pops that
// many from the one FIFO queue, whichever they are. Balancing by count keeps every worker's share of
// the clients even, so with the default pool of one worker per CPU each CPU
// gets an equal share; the stats line shows each worker's sessions and busy
// time, so an imbalance in activity is visible. (One shared doorbell watched
// with EPOLLEXCLUSIVE was the alternative: the kernel then wakes the first
// idle waiter in registration order, so at light load one worker collects
// every long-lived session.)
//
// Thread safety: as WorkerPool; OnQueued() from one thread (the acceptor).

#include <memory>
#include <thread>
#include <vector>

#include "server/event/event_worker.h"
#include "server/worker_pool.h"

namespace server {

class EventPool : public WorkerPool {
 public:
  // `io`: the kernel interface each worker's loop waits in (--io).
  EventPool(int workers, const Deps& deps, common::IoBackend io = common::IoBackend::kEpoll);
  ~EventPool() override;

  absl::Status Start() override;
  void OnQueued(int n) override;
  void Shutdown(absl::Time grace_deadline) override;

 private:
  void StopAndJoin(absl::Time grace_deadline);

  std::vector<std::unique_ptr<EventWorker>> workers_;
  std::vector<std::thread> threads_;
  // Acceptor thread only.
  size_t next_ = 0;  // where ties start, so equal loads take turns
  std::vector<int64_t> picked_;
};

}  // namespace server

#endif  // SERVER_EVENT_EVENT_POOL_H_
