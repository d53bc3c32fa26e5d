#include "common/socket_activation.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace common {
namespace {

// The variable's value, if set, copied (unsetenv invalidates getenv's
// pointer).
std::optional<std::string> GetEnv(const char* name) {
  const char* value = ::getenv(name);
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

absl::StatusOr<int> IntSocketOption(int fd, int option, const char* name) {
  int value = 0;
  socklen_t length = sizeof(value);
  if (::getsockopt(fd, SOL_SOCKET, option, &value, &length) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("getsockopt(", name, ")"));
  }
  return value;
}

// FailedPrecondition unless `fd` is a listening TCP socket.
absl::Status CheckListeningTcpSocket(int fd) {
  const std::string what = absl::StrCat("socket activation: descriptor ", fd);
  if (::fcntl(fd, F_GETFD) == -1) {
    return absl::FailedPreconditionError(absl::StrCat(what, " is not open"));
  }
  absl::StatusOr<int> type = IntSocketOption(fd, SO_TYPE, "SO_TYPE");
  if (!type.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat(what, " is not a socket (", type.status().message(), ")"));
  }
  absl::StatusOr<int> domain = IntSocketOption(fd, SO_DOMAIN, "SO_DOMAIN");
  absl::StatusOr<int> protocol = IntSocketOption(fd, SO_PROTOCOL, "SO_PROTOCOL");
  if (!domain.ok()) return domain.status();
  if (!protocol.ok()) return protocol.status();
  if (*type != SOCK_STREAM || (*domain != AF_INET && *domain != AF_INET6) ||
      *protocol != IPPROTO_TCP) {
    return absl::FailedPreconditionError(absl::StrCat(
        what, " is not a TCP socket (family ", *domain, ", type ", *type, ", protocol ",
        *protocol, "); the .socket unit needs ListenStream=ADDRESS:PORT"));
  }
  absl::StatusOr<int> listening = IntSocketOption(fd, SO_ACCEPTCONN, "SO_ACCEPTCONN");
  if (!listening.ok()) return listening.status();
  if (*listening == 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        what, " is a TCP socket but not listening (Accept=yes passes connections; the "
              "server needs Accept=no)"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::optional<UniqueFd>> TakeActivatedListener() {
  const std::optional<std::string> listen_pid = GetEnv("LISTEN_PID");
  const std::optional<std::string> listen_fds = GetEnv("LISTEN_FDS");
  ::unsetenv("LISTEN_PID");
  ::unsetenv("LISTEN_FDS");
  ::unsetenv("LISTEN_FDNAMES");

  if (!listen_pid.has_value()) return std::nullopt;
  pid_t pid = 0;
  if (!absl::SimpleAtoi(*listen_pid, &pid) || pid <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("socket activation: LISTEN_PID='", *listen_pid, "' is not a process id"));
  }
  if (pid != ::getpid() || !listen_fds.has_value()) return std::nullopt;
  int count = 0;
  if (!absl::SimpleAtoi(*listen_fds, &count) || count <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "socket activation: LISTEN_FDS='", *listen_fds, "' is not a positive number"));
  }
  if (count != 1) {
    return absl::FailedPreconditionError(
        absl::StrCat("socket activation: systemd passed ", count,
                     " sockets (LISTEN_FDS); the server takes exactly one, so its .socket "
                     "unit must have a single ListenStream="));
  }
  if (absl::Status status = CheckListeningTcpSocket(kListenFdsStart); !status.ok()) {
    return status;
  }

  UniqueFd listener(kListenFdsStart);
  const int flags = ::fcntl(listener.get(), F_GETFL);
  if (flags == -1 || ::fcntl(listener.get(), F_SETFL, flags | O_NONBLOCK) == -1 ||
      ::fcntl(listener.get(), F_SETFD, FD_CLOEXEC) == -1) {
    const int err = errno;
    listener.Release();  // not taken after all: descriptor 3 stays open
    return absl::ErrnoToStatus(err, "socket activation: fcntl on descriptor 3");
  }
  return std::optional<UniqueFd>(std::move(listener));
}

}  // namespace common
