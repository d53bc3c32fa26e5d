#include "server/classic/classic_pool.h"

#include <errno.h>
#include <poll.h>

#include "absl/strings/str_cat.h"
#include "common/socket.h"
#include "common/thread_starter.h"
#include "common/verbose_log.h"
#include "glog/logging.h"

namespace server {

ClassicPool::ClassicPool(int workers, const Deps& deps) : WorkerPool(workers, deps) {}

ClassicPool::~ClassicPool() {
  if (!threads_.empty()) StopAndJoin(absl::Now());
}

absl::Status ClassicPool::Start() {
  CHECK(threads_.empty()) << "Start() called twice";
  if (!stop_.valid()) return absl::ResourceExhaustedError("cannot create the stop eventfd");
  for (int i = 0; i < size(); ++i) {
    auto thread = common::StartThread(absl::StrCat("worker-", i), [this, i] { WorkerLoop(i); });
    if (!thread.ok()) {
      StopAndJoin(absl::Now());
      return absl::ResourceExhaustedError(
          absl::StrCat("worker thread ", i + 1, " of ", size(), ": ", thread.status().message()));
    }
    threads_.push_back(std::move(*thread));
  }
  return absl::OkStatus();
}

void ClassicPool::Shutdown(absl::Time grace_deadline) { StopAndJoin(grace_deadline); }

void ClassicPool::StopAndJoin(absl::Time grace_deadline) {
  grace_deadline_ = grace_deadline;
  stop_.Notify();            // the eventfd write orders grace_deadline_ before any wake-up
  deps_.queue->Close();      // releases workers waiting in Pop()
  for (auto& t : threads_) t.join();
  threads_.clear();
}

void ClassicPool::WorkerLoop(int index) {
  WorkerCounters& c = counters(index);
  while (auto conn = deps_.queue->Pop()) {
    const absl::Time start = absl::Now();
    Serve(std::move(*conn), c);
    AddOwned(c.busy_ns, absl::ToInt64Nanoseconds(absl::Now() - start));
  }
}

void ClassicPool::Serve(Connection conn, WorkerCounters& counters) {
  WorkerContext context(*deps_.config, &counters);
  AddOwned(counters.sessions, 1);
  Stats::Add(deps_.stats->active_sessions);
  const absl::Time start = absl::Now();
  counters.queue_wait.Record(start - conn.accepted_at);
  std::string peer = VERBOSE_ON(1) ? common::PeerName(conn.socket) : std::string();
  Session session(MakeTransport(deps_, std::move(conn.socket)),
                  std::move(conn.ticket), deps_.config, deps_.stats, start, std::move(peer));
  // A turn is a Resume(), not the wait for the client in poll().
  counters.BeginTurn(start);
  Session::Wait wait = session.Resume(start, context);
  counters.EndTurn();
  while (wait.interest != Session::Interest::kDone) {
    pollfd fds[2] = {
        {session.fd(),
         static_cast<short>(wait.interest == Session::Interest::kRead ? POLLIN : POLLOUT), 0},
        {stop_.fd(), POLLIN, 0}};
    const int nfds = session.shutting_down() ? 1 : 2;
    const int rc = ::poll(fds, nfds, common::PollTimeoutMs(wait.deadline));
    if (rc < 0) PCHECK(errno == EINTR) << "poll";
    // notified() is the acquire that makes grace_deadline_ visible.
    if (nfds == 2 && fds[1].revents != 0 && stop_.notified()) {
      session.BeginShutdown(grace_deadline_);
    }
    const absl::Time now = absl::Now();
    counters.BeginTurn(now);
    wait = session.Resume(now, context);
    counters.EndTurn();
  }
  RetireSession(session, deps_, counters, absl::Now());
  AddOwned(counters.sessions, -1);
}

}  // namespace server
