#include "common/signal_waiter.h"

#include <errno.h>
#include <poll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "glog/logging.h"

namespace common {

absl::StatusOr<SignalWaiter> SignalWaiter::Create(std::initializer_list<int> signals) {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : signals) sigaddset(&set, sig);
  if (int rc = pthread_sigmask(SIG_BLOCK, &set, nullptr); rc != 0) {
    return absl::InternalError(absl::StrCat("pthread_sigmask: ", strerror(rc)));
  }
  UniqueFd fd(::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
  if (!fd.valid()) {
    return absl::ResourceExhaustedError(absl::StrCat("signalfd: ", strerror(errno)));
  }
  return SignalWaiter(std::move(fd));
}

std::optional<int> SignalWaiter::Wait(const WakeupFd* done) {
  for (;;) {
    signalfd_siginfo info;
    const ssize_t n = ::read(fd_.get(), &info, sizeof(info));
    if (n == static_cast<ssize_t>(sizeof(info))) return static_cast<int>(info.ssi_signo);
    PCHECK(n < 0 && (errno == EAGAIN || errno == EINTR)) << "read(signalfd)";
    if (done != nullptr && done->notified()) return std::nullopt;
    pollfd fds[2] = {{fd_.get(), POLLIN, 0}, {done != nullptr ? done->fd() : -1, POLLIN, 0}};
    if (::poll(fds, done != nullptr ? 2 : 1, /*timeout=*/-1) < 0) {
      PCHECK(errno == EINTR) << "poll";
    }
  }
}

}  // namespace common
