#include "server/acceptor.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>

#include "common/protocol.h"
#include "common/socket.h"
#include "common/verbose_log.h"
#include "glog/logging.h"
#include "server/closing_line.h"

namespace server {
namespace {

constexpr absl::Duration kMinBackoff = absl::Milliseconds(10);
constexpr absl::Duration kMaxBackoff = absl::Milliseconds(100);
// Connections taken per wake-up before looking at the stop signal again.
constexpr int kMaxBatch = 1024;

common::UniqueFd OpenReserve() {
  return common::UniqueFd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
}

common::UniqueFd AcceptRaw(const common::UniqueFd& listener) {
  return common::UniqueFd(
      ::accept4(listener.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
}

}  // namespace

Acceptor::Acceptor(common::UniqueFd listener, const Limits& limits,
                   common::BoundedQueue<Connection>* queue, WorkerPool* pool,
                   LingeringCloser* closer, Stats* stats)
    : listener_(std::move(listener)),
      limits_(limits),
      queue_(queue),
      pool_(pool),
      closer_(closer),
      stats_(stats),
      reserve_(OpenReserve()) {}

void Acceptor::Run(const common::WakeupFd& stop) {
  while (!stop.notified()) {
    if (limits_.policy == OverloadPolicy::kBlock && !queue_->WaitForSpace()) break;
    if (!reserve_.valid()) reserve_ = OpenReserve();  // lost in an episode
    // While backing off, do not watch the listener: it stays readable when
    // accept() keeps failing, and watching it would spin.
    pollfd fds[2] = {{stop.fd(), POLLIN, 0}, {listener_.get(), POLLIN, 0}};
    const bool backing_off = backoff_ > absl::ZeroDuration();
    const int rc =
        ::poll(fds, backing_off ? 1 : 2,
               backing_off ? static_cast<int>(absl::ToInt64Milliseconds(backoff_)) : -1);
    if (rc < 0) {
      PCHECK(errno == EINTR) << "poll";
      continue;
    }
    if (fds[0].revents != 0) break;
    // Under `block`, one at a time, so each accept has a queue slot.
    const int batch = limits_.policy == OverloadPolicy::kBlock ? 1 : kMaxBatch;
    int queued = 0;
    for (int i = 0; i < batch; ++i) {
      if (AcceptOne(queued) != Accepted::kOne) break;
    }
    if (queued > 0) pool_->OnQueued(queued);
  }
  listener_.Reset();  // refuse new connections from now on
}

Acceptor::Accepted Acceptor::AcceptOne(int& queued) {
  common::UniqueFd socket = AcceptRaw(listener_);
  if (socket.valid()) {
    EndFdEpisode();
    Stats::Add(stats_->accepted);
    Admit(std::move(socket), queued);
    return Accepted::kOne;
  }
  switch (errno) {
    case EAGAIN:
#if EAGAIN != EWOULDBLOCK
    case EWOULDBLOCK:
#endif
      backoff_ = absl::ZeroDuration();  // nothing waiting: watch the listener again
      return Accepted::kNoneLeft;
    case EINTR:
    case ECONNABORTED:  // the client gave up while in the backlog
    case EPROTO:
    case EPERM:  // firewall rules
      return Accepted::kOne;
    case EMFILE:
    case ENFILE:
    case ENOBUFS:
    case ENOMEM:
      return OnFdExhausted(errno) ? Accepted::kOne : Accepted::kFailed;
    default:
      PLOG_EVERY_N(ERROR, 100) << "accept";
      backoff_ = kMinBackoff;
      return Accepted::kFailed;
  }
}

void Acceptor::Admit(common::UniqueFd socket, int& queued) {
  VERBOSE(1) << "accepted " << (limits_.proxy_protocol ? "a connection from proxy " : "")
             << common::PeerName(socket);
  AdmissionTicket ticket =
      AdmissionTicket::TryTake(&stats_->open_connections, limits_.max_connections);
  if (!ticket.held()) {
    Reject(std::move(socket), RejectReason::kMaxConnections, /*linger=*/true);
    return;
  }
  Connection conn{std::move(socket), std::move(ticket), absl::Now()};
  if (queue_->TryPush(conn)) {
    ++queued;
    return;
  }
  if (limits_.queue_full_waits) {
    pool_->OnQueued(queued);
    queued = 0;
    if (queue_->Push(conn)) {
      ++queued;
      return;
    }
  }
  // Queue full (reject policy), or closed because the server is stopping.
  if (queue_->closed()) {
    closer_->Close(std::move(conn.socket),
                   ClosingLine(limits_.framing, common::kShutdownLine, *stats_));
  } else {
    Reject(std::move(conn.socket), RejectReason::kQueueFull, /*linger=*/true);
  }
}

void Acceptor::Reject(common::UniqueFd socket, RejectReason reason, bool linger) {
  stats_->Reject(reason);
  VERBOSE(1) << "rejected (" << RejectReasonName(reason) << ") " << common::PeerName(socket);
  if (linger) {
    closer_->Close(std::move(socket), ClosingLine(limits_.framing, common::kBusyLine, *stats_));
  } else {
    LingeringCloser::CloseNow(std::move(socket),
                              ClosingLine(limits_.framing, common::kBusyLine, *stats_));
  }
}

void Acceptor::EndFdEpisode() {
  backoff_ = absl::ZeroDuration();
  if (fd_episode_) {
    fd_episode_ = false;
    LOG(INFO) << "accept: file descriptors available again; accepting normally";
  }
}

bool Acceptor::OnFdExhausted(int err) {
  if (!fd_episode_) {
    fd_episode_ = true;
    Stats::Add(stats_->emfile_episodes);
    LOG(WARNING) << "accept: " << std::strerror(err)
                 << "; turning new clients away until descriptors free up"
                 << " (raise `ulimit -n` or lower --max_connections)";
  }
  if (reserve_.valid()) {
    reserve_.Reset();
    common::UniqueFd socket = AcceptRaw(listener_);
    const bool shed = socket.valid();
    if (shed) {
      Stats::Add(stats_->accepted);
      // No lingering: descriptors are exactly what we are short of.
      Reject(std::move(socket), RejectReason::kNoDescriptors, /*linger=*/false);
    }
    reserve_ = OpenReserve();
    if (shed && reserve_.valid()) {
      // Progress: one waiting client told "busy". Go on without delay; the
      // next accept() shows whether more are waiting.
      backoff_ = absl::ZeroDuration();
      return true;
    }
  }
  // Another thread took the descriptor (or none is reserved): wait a little,
  // doubling, instead of spinning on a listener that stays readable.
  backoff_ = std::clamp(backoff_ * 2, kMinBackoff, kMaxBackoff);
  return false;
}

}  // namespace server
