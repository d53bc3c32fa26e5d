#include "server/acceptor.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>

#include "common/protocol.h"
#include "common/socket.h"
#include "glog/logging.h"

namespace server {
namespace {

constexpr absl::Duration kMinBackoff = absl::Milliseconds(10);
constexpr absl::Duration kMaxBackoff = absl::Seconds(1);

common::UniqueFd OpenReserve() {
  return common::UniqueFd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
}

common::UniqueFd AcceptRaw(const common::UniqueFd& listener) {
  return common::UniqueFd(
      ::accept4(listener.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
}

}  // namespace

Acceptor::Acceptor(common::UniqueFd listener, OverloadPolicy policy, Framing framing,
                   common::BoundedQueue<Connection>* queue, LingeringCloser* closer,
                   Stats* stats)
    : listener_(std::move(listener)),
      policy_(policy),
      framing_(framing),
      queue_(queue),
      closer_(closer),
      stats_(stats),
      reserve_(OpenReserve()) {}

void Acceptor::Run(const common::WakeupFd& stop) {
  while (!stop.notified()) {
    if (policy_ == OverloadPolicy::kBlock && !queue_->WaitForSpace()) break;
    // While backing off, do not watch the listener: it stays readable when
    // accept() keeps failing, and watching it would spin.
    pollfd fds[2] = {{stop.fd(), POLLIN, 0}, {listener_.get(), POLLIN, 0}};
    const bool backing_off = backoff_ > absl::ZeroDuration();
    int rc = ::poll(fds, backing_off ? 1 : 2,
                    backing_off ? static_cast<int>(absl::ToInt64Milliseconds(backoff_)) : -1);
    if (rc < 0) {
      PCHECK(errno == EINTR) << "poll";
      continue;
    }
    if (fds[0].revents != 0) break;
    // Under `block`, accept one at a time so each accept has a queue slot.
    const int batch = policy_ == OverloadPolicy::kBlock ? 1 : 64;
    for (int i = 0; i < batch && !stop.notified(); ++i) {
      if (!AcceptOne()) break;
    }
  }
  listener_.Reset();  // refuse new connections from now on
}

bool Acceptor::AcceptOne() {
  common::UniqueFd socket = AcceptRaw(listener_);
  if (socket.valid()) {
    backoff_ = absl::ZeroDuration();
    if (fd_episode_) {
      fd_episode_ = false;
      LOG(INFO) << "accept: file descriptors available again; accepting normally";
    }
    Stats::Add(stats_->accepted);
    Dispatch(std::move(socket));
    return true;
  }
  switch (errno) {
    case EAGAIN:
#if EAGAIN != EWOULDBLOCK
    case EWOULDBLOCK:
#endif
      return false;
    case EINTR:
    case ECONNABORTED:  // the client gave up while in the backlog
    case EPROTO:
    case EPERM:  // firewall rules
      return true;
    case EMFILE:
    case ENFILE:
    case ENOBUFS:
    case ENOMEM:
      OnFdExhausted(errno);
      return false;
    default:
      PLOG_EVERY_N(ERROR, 100) << "accept";
      backoff_ = kMinBackoff;
      return false;
  }
}

absl::string_view Acceptor::ProtocolLine(absl::string_view line) const {
  return framing_ == Framing::kLine ? line : absl::string_view();
}

void Acceptor::Dispatch(common::UniqueFd socket) {
  VLOG(1) << "accepted " << common::PeerName(socket);
  Connection conn{std::move(socket), absl::Now()};
  if (queue_->TryPush(conn)) return;
  // Queue full (reject policy), or closed because the server is stopping.
  if (queue_->closed()) {
    closer_->Close(std::move(conn.socket), ProtocolLine(common::kShutdownLine));
    return;
  }
  Reject(std::move(conn.socket), /*linger=*/true);
}

void Acceptor::Reject(common::UniqueFd socket, bool linger) {
  Stats::Add(stats_->rejected_busy);
  VLOG(1) << "rejected (busy) " << common::PeerName(socket);
  if (linger) {
    closer_->Close(std::move(socket), ProtocolLine(common::kBusyLine));
  } else {
    LingeringCloser::CloseNow(std::move(socket), ProtocolLine(common::kBusyLine));
  }
}

void Acceptor::OnFdExhausted(int err) {
  if (!fd_episode_) {
    fd_episode_ = true;
    Stats::Add(stats_->emfile_episodes);
    LOG(WARNING) << "accept: " << strerror(err)
                 << "; turning new clients away until descriptors free up"
                 << " (raise `ulimit -n` or lower --queue_capacity)";
  }
  if (reserve_.valid()) {
    reserve_.Reset();
    common::UniqueFd socket = AcceptRaw(listener_);
    const bool shed = socket.valid();
    if (shed) {
      Stats::Add(stats_->accepted);
      // No lingering: descriptors are exactly what we are short of.
      Reject(std::move(socket), /*linger=*/false);
    }
    reserve_ = OpenReserve();
    if (shed && reserve_.valid()) {
      // Progress: one waiting client told "busy". Go on without delay; the
      // next accept() shows whether more are waiting.
      backoff_ = absl::ZeroDuration();
      return;
    }
  }
  // Another thread took the descriptor (or none is reserved): wait a little,
  // doubling, instead of spinning on a listener that stays readable.
  backoff_ = std::clamp(backoff_ * 2, kMinBackoff, kMaxBackoff);
}

}  // namespace server
