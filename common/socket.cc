#include "common/socket.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <memory>

#include "absl/strings/str_cat.h"

namespace common {
namespace {

struct AddrInfoDeleter {
  void operator()(addrinfo* ai) const { freeaddrinfo(ai); }
};
using AddrInfoPtr = std::unique_ptr<addrinfo, AddrInfoDeleter>;

absl::StatusOr<AddrInfoPtr> ResolveAll(absl::string_view host, int port, bool passive) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
  addrinfo* result = nullptr;
  const std::string host_str(host);
  const std::string port_str = std::to_string(port);
  int rc = getaddrinfo(host_str.empty() ? nullptr : host_str.c_str(), port_str.c_str(),
                       &hints, &result);
  if (rc != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot resolve host '", host, "': ", gai_strerror(rc)));
  }
  return AddrInfoPtr(result);
}

std::string FormatAddress(const sockaddr* sa) {
  char buf[INET6_ADDRSTRLEN] = "?";
  int port = 0;
  if (sa->sa_family == AF_INET) {
    auto* in = reinterpret_cast<const sockaddr_in*>(sa);
    inet_ntop(AF_INET, &in->sin_addr, buf, sizeof(buf));
    port = ntohs(in->sin_port);
    return absl::StrCat(buf, ":", port);
  }
  if (sa->sa_family == AF_INET6) {
    auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
    inet_ntop(AF_INET6, &in6->sin6_addr, buf, sizeof(buf));
    port = ntohs(in6->sin6_port);
    return absl::StrCat("[", buf, "]:", port);
  }
  return "?";
}

int PollOnce(int fd, short events, absl::Time deadline) {
  pollfd pfd{fd, events, 0};
  for (;;) {
    int rc = ::poll(&pfd, 1, PollTimeoutMs(deadline));
    if (rc < 0 && errno == EINTR) continue;
    return rc;
  }
}

// A non-blocking, close-on-exec TCP socket of `family`.
absl::StatusOr<UniqueFd> NewSocket(int family, absl::string_view where) {
  UniqueFd fd(::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return ErrnoStatus(errno, absl::StrCat("socket for ", where));
  return fd;
}

}  // namespace

int PollTimeoutMs(absl::Time deadline) {
  if (deadline == absl::InfiniteFuture()) return -1;
  const absl::Duration left = deadline - absl::Now();
  if (left <= absl::ZeroDuration()) return 0;
  return static_cast<int>(std::min<int64_t>(
      absl::ToInt64Milliseconds(absl::Ceil(left, absl::Milliseconds(1))), 1 << 30));
}

absl::Status ErrnoStatus(int err, absl::string_view what) {
  return absl::ErrnoToStatus(err, what);
}

absl::StatusOr<UniqueFd> Listen(absl::string_view host, int port, int backlog,
                                bool reuse_port) {
  auto addrs = ResolveAll(host, port, /*passive=*/true);
  if (!addrs.ok()) return addrs.status();
  absl::Status last = absl::UnavailableError("no address to listen on");
  for (addrinfo* ai = addrs->get(); ai != nullptr; ai = ai->ai_next) {
    const std::string where = FormatAddress(ai->ai_addr);
    auto socket = NewSocket(ai->ai_family, where);
    if (!socket.ok()) {
      last = socket.status();
      continue;
    }
    UniqueFd fd = std::move(*socket);
    int one = 1;
    // Restarting the server must not wait out TIME_WAIT of old connections.
    ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (reuse_port && ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) {
      return ErrnoStatus(errno, absl::StrCat("SO_REUSEPORT on ", where));
    }
    if (ai->ai_family == AF_INET6) {
      // "::" means every address, IPv4 included, whatever the sysctl default.
      int zero = 0;
      ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
    }
    if (::bind(fd.get(), ai->ai_addr, ai->ai_addrlen) != 0) {
      last = ErrnoStatus(errno, absl::StrCat("bind ", where));
      continue;
    }
    if (::listen(fd.get(), backlog) != 0) {
      last = ErrnoStatus(errno, absl::StrCat("listen ", where));
      continue;
    }
    return fd;
  }
  return last;
}

absl::StatusOr<int> BoundPort(const UniqueFd& socket) {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  if (::getsockname(socket.get(), reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
    return ErrnoStatus(errno, "getsockname");
  }
  if (ss.ss_family == AF_INET) return ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  if (ss.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
  return absl::InternalError("not an IP socket");
}

std::string PeerName(const UniqueFd& socket) {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  if (::getpeername(socket.get(), reinterpret_cast<sockaddr*>(&ss), &len) != 0) return "?";
  return FormatAddress(reinterpret_cast<sockaddr*>(&ss));
}

absl::StatusOr<UniqueFd> Connect(absl::string_view host, int port, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  auto addrs = ResolveAll(host, port, /*passive=*/false);
  if (!addrs.ok()) return addrs.status();
  absl::Status last = absl::UnavailableError("no address to connect to");
  for (addrinfo* ai = addrs->get(); ai != nullptr; ai = ai->ai_next) {
    const std::string where = FormatAddress(ai->ai_addr);
    SocketAddress address;
    std::memcpy(&address.storage, ai->ai_addr, ai->ai_addrlen);
    address.length = ai->ai_addrlen;
    auto fd = StartConnect(address);
    if (!fd.ok()) {
      last = absl::Status(fd.status().code(), absl::StrCat(fd.status().message(), " ", where));
      continue;
    }
    if (!WaitFor(*fd, POLLOUT, deadline).ok()) {
      last = absl::DeadlineExceededError(absl::StrCat("connect ", where, ": timed out"));
      continue;
    }
    absl::Status result = ConnectResult(*fd);
    if (!result.ok()) {
      last = absl::Status(result.code(), absl::StrCat(result.message(), " ", where));
      continue;
    }
    return fd;
  }
  return last;
}

absl::StatusOr<SocketAddress> Resolve(absl::string_view host, int port) {
  auto addrs = ResolveAll(host, port, /*passive=*/false);
  if (!addrs.ok()) return addrs.status();
  SocketAddress address;
  std::memcpy(&address.storage, (*addrs)->ai_addr, (*addrs)->ai_addrlen);
  address.length = (*addrs)->ai_addrlen;
  return address;
}

absl::StatusOr<UniqueFd> StartConnect(const SocketAddress& address) {
  auto fd = NewSocket(address.storage.ss_family, "connect");
  if (!fd.ok()) return fd.status();
  if (::connect(fd->get(), reinterpret_cast<const sockaddr*>(&address.storage),
                address.length) != 0 &&
      errno != EINPROGRESS) {
    return ErrnoStatus(errno, "connect");
  }
  (void)SetNoDelay(*fd);
  return fd;
}

absl::Status ConnectResult(const UniqueFd& socket) {
  int err = 0;
  socklen_t len = sizeof(err);
  if (::getsockopt(socket.get(), SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
  return err == 0 ? absl::OkStatus() : ErrnoStatus(err, "connect");
}

absl::Status SetNonBlocking(const UniqueFd& fd) {
  int flags = ::fcntl(fd.get(), F_GETFL, 0);
  if (flags < 0 || ::fcntl(fd.get(), F_SETFL, flags | O_NONBLOCK) < 0) {
    return ErrnoStatus(errno, "fcntl(O_NONBLOCK)");
  }
  return absl::OkStatus();
}

absl::Status SetNoDelay(const UniqueFd& socket) {
  int one = 1;
  if (::setsockopt(socket.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0) {
    return ErrnoStatus(errno, "setsockopt(TCP_NODELAY)");
  }
  return absl::OkStatus();
}

absl::Status WaitFor(const UniqueFd& fd, short events, absl::Time deadline) {
  int rc = PollOnce(fd.get(), events, deadline);
  if (rc < 0) return ErrnoStatus(errno, "poll");
  if (rc == 0) return absl::DeadlineExceededError("timed out");
  return absl::OkStatus();
}

absl::Status SendAll(const UniqueFd& socket, absl::string_view data, absl::Time deadline) {
  while (!data.empty()) {
    ssize_t n = ::send(socket.get(), data.data(), data.size(), MSG_NOSIGNAL);
    if (n > 0) {
      data.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      absl::Status ready = WaitFor(socket, POLLOUT, deadline);
      if (!ready.ok()) return ready;
      continue;
    }
    return ErrnoStatus(errno, "send");
  }
  return absl::OkStatus();
}

absl::StatusOr<size_t> RecvSome(const UniqueFd& socket, char* buffer, size_t size,
                                absl::Time deadline) {
  for (;;) {
    ssize_t n = ::recv(socket.get(), buffer, size, 0);
    if (n >= 0) return static_cast<size_t>(n);
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      absl::Status ready = WaitFor(socket, POLLIN, deadline);
      if (!ready.ok()) return ready;
      continue;
    }
    return ErrnoStatus(errno, "recv");
  }
}

std::string RecvLine(const UniqueFd& socket, absl::Time deadline) {
  std::string line;
  char c;
  while (line.empty() || line.back() != '\n') {
    absl::StatusOr<size_t> n = RecvSome(socket, &c, 1, deadline);
    if (!n.ok() || *n == 0) break;
    line.push_back(c);
  }
  return line;
}

bool DiscardPendingInput(const UniqueFd& socket, size_t& budget) {
  char buf[16384];
  while (budget > 0) {
    const ssize_t n = ::recv(socket.get(), buf, std::min(sizeof(buf), budget), MSG_DONTWAIT);
    if (n > 0) {
      budget -= static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return false;
    return true;  // EOF or a hard error: nothing more will arrive
  }
  return true;
}

bool DiscardPendingInput(const UniqueFd& socket) {
  size_t unlimited = std::numeric_limits<size_t>::max();
  return DiscardPendingInput(socket, unlimited);
}

absl::Status SetSocketBuffers(const UniqueFd& socket, int bytes) {
  for (int option : {SO_SNDBUF, SO_RCVBUF}) {
    if (::setsockopt(socket.get(), SOL_SOCKET, option, &bytes, sizeof(bytes)) != 0) {
      return ErrnoStatus(errno, option == SO_SNDBUF ? "SO_SNDBUF" : "SO_RCVBUF");
    }
  }
  return absl::OkStatus();
}

}  // namespace common
