#ifndef COMMON_SIGNAL_WAITER_H_
#define COMMON_SIGNAL_WAITER_H_

// SignalWaiter: takes a set of signals synchronously, on one thread, through
// a signalfd, with no periodic wake-up.
//
// Why: a signal handler may interrupt any thread at any point and may do
// almost nothing; taking signals as data on one controlling thread lets that
// thread log, read stats and run the shutdown sequence like ordinary code.
// And why not sigtimedwait() in a loop: the loop's tick delays whatever the
// thread waits for (the old 100 ms tick added up to 100 ms to every exit).
// Here the thread sleeps in poll() on the signalfd plus, optionally, a
// WakeupFd that another thread notifies when it is done: it wakes exactly
// when there is something to do.
//
// Create() blocks the signals in the calling thread; call it before any other
// thread starts, so every thread inherits the mask and none of them is ever
// chosen to take one of these signals by default action.
//
// Thread safety: Create() and Wait() on one thread (the process's main
// thread). The signalfd never leaves this object.

#include <signal.h>

#include <initializer_list>
#include <optional>

#include "absl/status/statusor.h"
#include "common/unique_fd.h"
#include "common/wakeup_fd.h"

namespace common {

class SignalWaiter {
 public:
  // Blocks `signals` and opens a signalfd for them.
  static absl::StatusOr<SignalWaiter> Create(std::initializer_list<int> signals);

  SignalWaiter(SignalWaiter&&) = default;
  SignalWaiter& operator=(SignalWaiter&&) = default;

  // Sleeps until one of the signals arrives (returns its number) or, if
  // `done` is given, until `done` is notified (returns nullopt; a signal
  // already pending is still returned first).
  std::optional<int> Wait(const WakeupFd* done = nullptr);

 private:
  explicit SignalWaiter(UniqueFd fd) : fd_(std::move(fd)) {}

  UniqueFd fd_;
};

}  // namespace common

#endif  // COMMON_SIGNAL_WAITER_H_
