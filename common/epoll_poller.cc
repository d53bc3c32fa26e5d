// EpollPoller: Poller over one epoll set.

#include <errno.h>
#include <sys/epoll.h>

#include "common/poller.h"
#include "common/socket.h"
#include "common/unique_fd.h"
#include "glog/logging.h"

namespace common {
namespace {

constexpr int kMaxEventsPerWait = 256;

uint32_t ToEpoll(uint32_t interest, Trigger trigger) {
  uint32_t events = 0;
  if (interest & kReadable) events |= EPOLLIN | EPOLLRDHUP | EPOLLPRI;
  if (interest & kWritable) events |= EPOLLOUT;
  if (trigger == Trigger::kEdge) events |= EPOLLET;
  return events;
}

uint32_t FromEpoll(uint32_t events) {
  uint32_t readiness = 0;
  if (events & EPOLLIN) readiness |= kReadable;
  if (events & EPOLLOUT) readiness |= kWritable;
  if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) readiness |= kHangup;
  if (events & EPOLLPRI) readiness |= kUrgent | kReadable;
  return readiness;
}

class EpollPoller : public Poller {
 public:
  explicit EpollPoller(UniqueFd epoll) : epoll_(std::move(epoll)) {}

  absl::Status Add(int fd, uint64_t token, uint32_t interest, Trigger trigger) override {
    epoll_event ev{};
    ev.events = ToEpoll(interest, trigger);
    ev.data.u64 = token;
    if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) != 0) {
      return ErrnoStatus(errno, "epoll_ctl(ADD)");
    }
    return absl::OkStatus();
  }

  absl::Status Remove(int fd) override {
    if (::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr) != 0) {
      return ErrnoStatus(errno, "epoll_ctl(DEL)");
    }
    return absl::OkStatus();
  }

  int Wait(absl::Time deadline, absl::Span<Event> out) override {
    epoll_event events[kMaxEventsPerWait];
    const int max = static_cast<int>(std::min<size_t>(out.size(), kMaxEventsPerWait));
    const int timeout = deadline == absl::InfinitePast() ? 0 : PollTimeoutMs(deadline);
    const int n = ::epoll_wait(epoll_.get(), events, max, timeout);
    if (n < 0) {
      PCHECK(errno == EINTR) << "epoll_wait";
      return 0;
    }
    for (int i = 0; i < n; ++i) out[i] = {events[i].data.u64, FromEpoll(events[i].events)};
    return n;
  }

  const char* name() const override { return "epoll"; }

 private:
  UniqueFd epoll_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Poller>> NewEpollPoller() {
  UniqueFd epoll(::epoll_create1(EPOLL_CLOEXEC));
  if (!epoll.valid()) return ErrnoStatus(errno, "epoll_create1");
  return std::make_unique<EpollPoller>(std::move(epoll));
}

}  // namespace common
