#ifndef COMMON_WAKEUP_FD_H_
#define COMMON_WAKEUP_FD_H_

// WakeupFd: a one-shot, level-triggered "stop now" signal that can sit in a
// poll()/epoll set next to sockets.
//
// Notify() makes the descriptor readable, and it stays readable forever (the
// counter is never drained), so every thread polling it, now or later, wakes.
// That is how shutdown reaches a worker blocked waiting for its client and the
// acceptor blocked in poll(), without timeouts or signals.
//
// Thread safety: Notify(), notified() and fd() may be called from any thread.

#include <atomic>

#include "common/unique_fd.h"

namespace common {

class WakeupFd {
 public:
  // Check valid(): the kernel may refuse an eventfd (descriptors exhausted),
  // which a server must report at start-up rather than crash on.
  WakeupFd();
  WakeupFd(const WakeupFd&) = delete;
  WakeupFd& operator=(const WakeupFd&) = delete;

  bool valid() const { return fd_.valid(); }
  void Notify();
  bool notified() const { return notified_.load(std::memory_order_acquire); }
  // For poll()/epoll registration only; ownership stays here.
  int fd() const { return fd_.get(); }

 private:
  UniqueFd fd_;
  std::atomic<bool> notified_{false};
};

}  // namespace common

#endif  // COMMON_WAKEUP_FD_H_
