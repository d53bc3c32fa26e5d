#include "server/worker_pool.h"

#include <errno.h>
#include <poll.h>

#include <algorithm>

#include "glog/logging.h"

namespace server {
namespace {

// Per-worker read buffer: sessions borrow it, so an idle session owns none.
constexpr size_t kScratchBytes = 64 * 1024;

int PollTimeoutMs(absl::Time deadline, absl::Time now) {
  if (deadline == absl::InfiniteFuture()) return -1;
  if (deadline <= now) return 0;
  return static_cast<int>(std::min<int64_t>(
      absl::ToInt64Milliseconds(absl::Ceil(deadline - now, absl::Milliseconds(1))), 1 << 30));
}

}  // namespace

WorkerPool::WorkerPool(int workers, common::BoundedQueue<Connection>* queue,
                       const SessionConfig* config, Stats* stats, LingeringCloser* closer)
    : workers_(workers), queue_(queue), config_(config), stats_(stats), closer_(closer) {
  CHECK_GT(workers, 0);
}

WorkerPool::~WorkerPool() {
  if (!threads_.empty()) {
    queue_->Close();
    Shutdown(absl::Now());
  }
}

void WorkerPool::Start() {
  CHECK(threads_.empty()) << "Start() called twice";
  threads_.reserve(workers_);
  for (int i = 0; i < workers_; ++i) threads_.emplace_back([this] { WorkerLoop(); });
}

void WorkerPool::Shutdown(absl::Time grace_deadline) {
  grace_deadline_ = grace_deadline;
  stop_.Notify();  // the eventfd write orders grace_deadline_ before any wake-up
  for (auto& t : threads_) t.join();
  threads_.clear();
}

void WorkerPool::WorkerLoop() {
  std::vector<char> scratch(kScratchBytes);
  while (auto conn = queue_->Pop()) Serve(std::move(*conn), scratch);
}

void WorkerPool::Serve(Connection conn, std::vector<char>& scratch) {
  Stats::Add(stats_->active_sessions);
  Session session(std::move(conn.socket), config_, stats_, absl::Now());
  absl::Span<char> buf(scratch.data(), scratch.size());
  Session::Wait wait = session.Resume(absl::Now(), buf);
  while (wait.interest != Session::Interest::kDone) {
    pollfd fds[2] = {
        {session.fd(), static_cast<short>(wait.interest == Session::Interest::kRead ? POLLIN
                                                                                    : POLLOUT),
         0},
        {stop_.fd(), POLLIN, 0}};
    const int nfds = session.shutting_down() ? 1 : 2;
    int rc = ::poll(fds, nfds, PollTimeoutMs(wait.deadline, absl::Now()));
    if (rc < 0 && errno != EINTR) PLOG(FATAL) << "poll";
    // notified() is the acquire that makes grace_deadline_ visible.
    if (nfds == 2 && fds[1].revents != 0 && stop_.notified()) {
      session.BeginShutdown(grace_deadline_, buf);
    }
    wait = session.Resume(absl::Now(), buf);
  }
  Retire(session);
}

void WorkerPool::Retire(Session& session) {
  if (session.wants_graceful_close()) {
    closer_->Close(session.ReleaseSocket());
  }
  // Otherwise the socket closes with the session.
  Stats::Add(stats_->active_sessions, -1);
  Stats::Add(stats_->sessions_completed);
}

}  // namespace server
