#ifndef SERVER_CLASSIC_POOL_H_
#define SERVER_CLASSIC_POOL_H_

// ClassicPool: the classic model (--model=classic). Each worker takes one
// connection off the queue and owns that session from welcome to close,
// waiting in poll() on its one socket plus the pool's stop descriptor.
// Simple, and what the socket tutorial's design grows into, but an idle or
// slow client holds a worker for as long as it stays (the "keep-alive
// problem" httpd's event MPM was made for), so --workers must cover every
// client expected at once; the rest wait in the queue without a welcome.
//
// Shutdown notifies the stop descriptor, which every blocked worker polls,
// so workers waiting for clients wake at once.
//
// Thread safety: as WorkerPool.

#include <memory>
#include <thread>
#include <vector>

#include "common/wakeup_fd.h"
#include "server/worker_pool.h"

namespace server {

class ClassicPool : public WorkerPool {
 public:
  ClassicPool(int workers, const Deps& deps);
  ~ClassicPool() override;

  absl::Status Start() override;
  // Workers wait in BoundedQueue::Pop(); each push wakes one.
  void OnQueued(int) override {}
  void Shutdown(absl::Time grace_deadline) override;

 private:
  void WorkerLoop(int index);
  void Serve(Connection conn, WorkerContext& context, WorkerCounters& counters);
  void StopAndJoin(absl::Time grace_deadline);

  // Made here, not by each worker: memory running out at start-up then fails
  // before any thread runs, not inside one.
  std::vector<std::unique_ptr<WorkerContext>> contexts_;
  common::WakeupFd stop_;
  absl::Time grace_deadline_ = absl::InfiniteFuture();  // written before stop_ notifies
  std::vector<std::thread> threads_;
};

}  // namespace server

#endif  // SERVER_CLASSIC_POOL_H_
