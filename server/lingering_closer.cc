#include "server/lingering_closer.h"

#include <sys/epoll.h>
#include <sys/socket.h>

#include <algorithm>

#include "common/socket.h"
#include "common/thread_starter.h"
#include "glog/logging.h"

namespace server {
namespace {

constexpr uint64_t kStopId = 0;
// Input read and thrown away per socket at most, before closing it anyway.
constexpr size_t kDiscardBudget = 256 * 1024;

}  // namespace

LingeringCloser::LingeringCloser(absl::Duration linger, size_t max_sockets)
    : linger_(linger), max_sockets_(max_sockets) {}

absl::Status LingeringCloser::Start() {
  CHECK(!thread_.joinable()) << "Start() called twice";
  if (!stop_.valid()) return common::ErrnoStatus(errno, "lingering closer: eventfd");
  common::UniqueFd epoll(::epoll_create1(EPOLL_CLOEXEC));
  if (!epoll.valid()) return common::ErrnoStatus(errno, "lingering closer: epoll_create1");
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kStopId;
  if (::epoll_ctl(epoll.get(), EPOLL_CTL_ADD, stop_.fd(), &ev) != 0) {
    return common::ErrnoStatus(errno, "lingering closer: epoll_ctl");
  }
  absl::MutexLock lock(&mu_);
  epoll_ = std::move(epoll);
  auto thread = common::StartThread("closer", [this] { Run(); });
  if (!thread.ok()) {
    epoll_.Reset();
    return thread.status();
  }
  thread_ = std::move(*thread);
  return absl::OkStatus();
}

LingeringCloser::~LingeringCloser() {
  if (thread_.joinable()) Stop(absl::Now());
}

bool LingeringCloser::SayLastLineAndHalfClose(const common::UniqueFd& socket,
                                              absl::string_view last_line, size_t& budget) {
  if (!last_line.empty()) {
    (void)::send(socket.get(), last_line.data(), last_line.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  }
  // Our FIN goes out after everything already sent.
  ::shutdown(socket.get(), SHUT_WR);
  return common::DiscardPendingInput(socket, budget);
}

void LingeringCloser::CloseNow(common::UniqueFd socket, absl::string_view last_line) {
  size_t budget = kDiscardBudget;
  if (socket.valid()) SayLastLineAndHalfClose(socket, last_line, budget);
}

void LingeringCloser::Close(common::UniqueFd socket, absl::string_view last_line) {
  if (!socket.valid()) return;
  size_t budget = kDiscardBudget;
  if (SayLastLineAndHalfClose(socket, last_line, budget)) return;  // nothing to wait for
  absl::MutexLock lock(&mu_);
  if (!epoll_.valid() || entries_.size() >= max_sockets_ || stop_.notified()) {
    return;  // close now
  }
  const uint64_t id = next_id_++;
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLRDHUP;
  ev.data.u64 = id;
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, socket.get(), &ev) != 0) return;
  entries_.emplace(id, Entry{std::move(socket), absl::Now() + linger_, budget});
  by_deadline_.push_back(id);
}

size_t LingeringCloser::lingering() const {
  absl::MutexLock lock(&mu_);
  return entries_.size();
}

void LingeringCloser::Expire(absl::Time now) {
  while (!by_deadline_.empty()) {
    auto it = entries_.find(by_deadline_.front());
    if (it != entries_.end()) {
      if (it->second.deadline > now && now < stop_deadline_) break;
      entries_.erase(it);  // closes (epoll drops closed descriptors itself)
    }
    by_deadline_.pop_front();
  }
}

void LingeringCloser::Run() {
  constexpr int kMaxEvents = 64;
  epoll_event events[kMaxEvents];
  for (;;) {
    absl::Time wake;
    {
      absl::MutexLock lock(&mu_);
      const absl::Time now = absl::Now();
      Expire(now);
      if (stop_.notified() && (entries_.empty() || now >= stop_deadline_)) {
        entries_.clear();
        by_deadline_.clear();
        return;
      }
      // Wake for the earliest deadline; look around at least every 100 ms.
      wake = now + absl::Milliseconds(100);
      if (!by_deadline_.empty()) {
        auto it = entries_.find(by_deadline_.front());
        if (it != entries_.end()) wake = std::min(wake, it->second.deadline);
      }
      if (stop_.notified()) wake = std::min(wake, stop_deadline_);
    }
    int n = ::epoll_wait(epoll_.get(), events, kMaxEvents, common::PollTimeoutMs(wake));
    if (n < 0) {
      PCHECK(errno == EINTR) << "epoll_wait";
      continue;
    }
    absl::MutexLock lock(&mu_);
    for (int i = 0; i < n; ++i) {
      const uint64_t id = events[i].data.u64;
      if (id == kStopId) {
        // Seen once is enough: it stays readable, and from now on the
        // deadlines alone drive the loop.
        ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, stop_.fd(), nullptr);
        continue;
      }
      auto it = entries_.find(id);
      if (it == entries_.end()) continue;
      if (common::DiscardPendingInput(it->second.socket, it->second.discard_budget)) {
        entries_.erase(it);
      }
    }
  }
}

void LingeringCloser::Stop(absl::Time deadline) {
  {
    absl::MutexLock lock(&mu_);
    stop_deadline_ = deadline;
  }
  stop_.Notify();
  if (thread_.joinable()) thread_.join();
}

}  // namespace server
