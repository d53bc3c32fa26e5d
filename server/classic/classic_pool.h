#ifndef SERVER_CLASSIC_CLASSIC_POOL_H_
#define SERVER_CLASSIC_CLASSIC_POOL_H_

// ClassicPool: the classic model (--model=classic). Each worker takes one
// connection off the queue and owns that session from welcome to close,
// waiting in poll() on its one socket plus the pool's stop descriptor.
// Simple, and what the socket tutorial's design grows into, but an idle or
// slow client holds a worker for as long as it stays (the "keep-alive
// problem" httpd's event MPM was made for), so --workers must cover every
// client expected at once; the rest wait in the queue without a welcome.
//
// A worker waiting for a client holds its thread's stack and nothing else:
// the buffers a session works with are taken when it starts and given back
// when it ends.
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
  // Runs one session; its WorkerContext (up to about 130 KiB of buffers) is
  // made here and freed when the session ends, so an idle worker holds no
  // buffer (5,000 idle workers held 382 MiB when each kept its own).
  void Serve(Connection conn, WorkerCounters& counters);
  void StopAndJoin(absl::Time grace_deadline);

  common::WakeupFd stop_;
  absl::Time grace_deadline_ = absl::InfiniteFuture();  // written before stop_ notifies
  std::vector<std::thread> threads_;
};

}  // namespace server

#endif  // SERVER_CLASSIC_CLASSIC_POOL_H_
