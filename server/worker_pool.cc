#include "server/worker_pool.h"

#include <errno.h>
#include <poll.h>
#include <sys/epoll.h>

#include <algorithm>

#include "common/socket.h"
#include "glog/logging.h"

namespace server {
namespace {

// Per-worker read buffer: sessions borrow it, so an idle session owns none.
constexpr size_t kScratchBytes = 64 * 1024;

// epoll tags of the parked model's fixed members (session ids count up from 1).
constexpr uint64_t kQueueTag = ~uint64_t{0};
constexpr uint64_t kStopTag = kQueueTag - 1;
constexpr uint64_t kExitTag = kQueueTag - 2;

}  // namespace

WorkerPool::WorkerPool(int workers, bool park_idle_sessions,
                       common::BoundedQueue<Connection>* queue, const SessionConfig* config,
                       Stats* stats, LingeringCloser* closer)
    : workers_(workers),
      park_(park_idle_sessions),
      queue_(queue),
      config_(config),
      stats_(stats),
      closer_(closer) {
  CHECK_GT(workers, 0);
  if (!park_) return;
  CHECK_GE(queue_->ready_fd(), 0) << "the parked model needs a pollable queue";
  epoll_.Reset(::epoll_create1(EPOLL_CLOEXEC));
  PCHECK(epoll_.valid()) << "epoll_create1";
  lot_ = std::make_unique<ParkingLot>(epoll_.get());
  // New connections: level-triggered, readable while the queue holds any.
  // Stop: one-shot, so one worker sweeps the parked sessions into shutdown
  // (the others learn of it from stop_.notified() on their next wake-up).
  // Exit: level-triggered, so every worker sees it and leaves.
  const std::pair<int, uint64_t> fixed[] = {
      {queue_->ready_fd(), kQueueTag}, {stop_.fd(), kStopTag}, {exit_.fd(), kExitTag}};
  for (const auto& [fd, tag] : fixed) {
    epoll_event ev{};
    ev.events = EPOLLIN | (tag == kStopTag ? static_cast<uint32_t>(EPOLLONESHOT) : 0u);
    ev.data.u64 = tag;
    PCHECK(::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) == 0) << "epoll_ctl ADD";
  }
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
  for (int i = 0; i < workers_; ++i) {
    threads_.emplace_back([this] { park_ ? ParkedWorkerLoop() : WorkerLoop(); });
  }
}

void WorkerPool::Shutdown(absl::Time grace_deadline) {
  grace_deadline_ = grace_deadline;
  stop_.Notify();  // the eventfd write orders grace_deadline_ before any wake-up
  if (park_) ExitIfDrained();
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
    int rc = ::poll(fds, nfds, common::PollTimeoutMs(wait.deadline));
    if (rc < 0 && errno != EINTR) PLOG(FATAL) << "poll";
    // notified() is the acquire that makes grace_deadline_ visible.
    if (nfds == 2 && fds[1].revents != 0 && stop_.notified()) {
      session.BeginShutdown(grace_deadline_, buf);
    }
    wait = session.Resume(absl::Now(), buf);
  }
  Retire(session);
}

void WorkerPool::ParkedWorkerLoop() {
  std::vector<char> scratch_storage(kScratchBytes);
  absl::Span<char> scratch(scratch_storage.data(), scratch_storage.size());
  constexpr int kMaxEvents = 16;
  epoll_event events[kMaxEvents];
  for (;;) {
    const int timeout = common::PollTimeoutMs(lot_->NextDeadline());
    const int n = ::epoll_wait(epoll_.get(), events, kMaxEvents, timeout);
    if (n < 0 && errno != EINTR) PLOG(FATAL) << "epoll_wait";
    for (int i = 0; i < n; ++i) {
      const uint64_t tag = events[i].data.u64;
      if (tag == kExitTag) return;
      if (tag == kStopTag) {
        for (auto [id, session] : lot_->ClaimAll()) Drive(id, session, scratch);
        ExitIfDrained();
      } else if (tag == kQueueTag) {
        starting_.fetch_add(1);
        if (auto conn = queue_->TryPop()) StartParked(std::move(*conn), scratch);
        starting_.fetch_sub(1);
        ExitIfDrained();
      } else if (Session* session = lot_->Claim(tag)) {
        Drive(tag, session, scratch);
      }
    }
    for (auto [id, session] : lot_->ClaimExpired(absl::Now())) Drive(id, session, scratch);
  }
}

void WorkerPool::StartParked(Connection conn, absl::Span<char> scratch) {
  Stats::Add(stats_->active_sessions);
  auto session = std::make_unique<Session>(std::move(conn.socket), config_, stats_, absl::Now());
  Session* raw = session.get();
  const uint64_t id = lot_->Add(std::move(session));
  Drive(id, raw, scratch);
}

void WorkerPool::Drive(uint64_t id, Session* session, absl::Span<char> scratch) {
  for (;;) {
    // notified() is the acquire that makes grace_deadline_ visible.
    if (stopping() && !session->shutting_down()) session->BeginShutdown(grace_deadline_, scratch);
    const Session::Wait wait = session->Resume(absl::Now(), scratch);
    if (wait.interest == Session::Interest::kDone) {
      std::unique_ptr<Session> done = lot_->Retire(id);
      Retire(*done);
      ExitIfDrained();
      return;
    }
    const bool shutting_down = session->shutting_down();
    lot_->Park(id, wait);
    // A stop that began while this session was running may have swept the
    // lot without it; take it back (unless another worker already has) and
    // start its goodbye now rather than at its next deadline.
    if (shutting_down || !stopping()) return;
    session = lot_->Claim(id);
    if (session == nullptr) return;
  }
}

void WorkerPool::ExitIfDrained() {
  if (stopping() && starting_.load() == 0 && lot_->size() == 0) exit_.Notify();
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
