#include "common/wakeup_fd.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdint>

namespace common {

WakeupFd::WakeupFd() : fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}

void WakeupFd::Notify() {
  notified_.store(true, std::memory_order_release);
  uint64_t one = 1;
  // Can only fail if the counter would overflow, which a few writes never do.
  ssize_t n = ::write(fd_.get(), &one, sizeof(one));
  (void)n;
}

}  // namespace common
