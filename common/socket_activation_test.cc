#include "common/socket_activation.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <functional>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/socket.h"
#include "gtest/gtest.h"

namespace common {
namespace {

// Descriptor 3 of the test process may be taken (by the test runner), so
// every case that puts something at descriptor 3 runs in a forked child,
// which reports its observations as text on a pipe.
std::string RunInChild(const std::function<std::string()>& body) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return "pipe failed";
  // Above descriptor 3, which the child overwrites.
  UniqueFd read_end(::fcntl(fds[0], F_DUPFD_CLOEXEC, 10));
  UniqueFd write_end(::fcntl(fds[1], F_DUPFD_CLOEXEC, 10));
  ::close(fds[0]);
  ::close(fds[1]);
  if (!read_end.valid() || !write_end.valid()) return "dup failed";
  const pid_t pid = ::fork();
  if (pid < 0) return "fork failed";
  if (pid == 0) {
    read_end.Reset();
    const std::string report = body();
    const bool written =
        ::write(write_end.get(), report.data(), report.size()) ==
        static_cast<ssize_t>(report.size());
    ::_exit(written ? 0 : 1);
  }
  write_end.Reset();
  std::string report;
  char buffer[512];
  ssize_t n;
  while ((n = ::read(read_end.get(), buffer, sizeof(buffer))) > 0) report.append(buffer, n);
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid) return "waitpid failed";
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return absl::StrCat("child failed (status ", status, "): ", report);
  }
  return report;
}

// Moves `fd` to descriptor 3 the way an exec'ing parent leaves it: blocking,
// inherited (no close-on-exec).
bool PlaceAtFd3(UniqueFd fd) {
  if (fd.get() == kListenFdsStart) {
    fd.Release();
  } else if (::dup2(fd.get(), kListenFdsStart) != kListenFdsStart) {
    return false;
  }
  const int flags = ::fcntl(kListenFdsStart, F_GETFL);
  return ::fcntl(kListenFdsStart, F_SETFL, flags & ~O_NONBLOCK) == 0 &&
         ::fcntl(kListenFdsStart, F_SETFD, 0) == 0;
}

void SetActivationEnv(const std::string& fds) {
  ::setenv("LISTEN_PID", std::to_string(::getpid()).c_str(), 1);
  ::setenv("LISTEN_FDS", fds.c_str(), 1);
  ::setenv("LISTEN_FDNAMES", "echo-server.socket", 1);
}

bool EnvCleared() {
  return ::getenv("LISTEN_PID") == nullptr && ::getenv("LISTEN_FDS") == nullptr &&
         ::getenv("LISTEN_FDNAMES") == nullptr;
}

// "nullopt", "fd N" or "CODE: message", then " env-cleared" if it was.
std::string Describe(const absl::StatusOr<std::optional<UniqueFd>>& result) {
  std::string text;
  if (!result.ok()) {
    text = absl::StrCat(absl::StatusCodeToString(result.status().code()), ": ",
                        result.status().message());
  } else if (!result->has_value()) {
    text = "nullopt";
  } else {
    text = absl::StrCat("fd ", (*result)->get());
  }
  return absl::StrCat(text, EnvCleared() ? " env-cleared" : " env-kept");
}

TEST(SocketActivationTest, NotActivatedWithoutTheEnvironment) {
  ::unsetenv("LISTEN_PID");
  ::unsetenv("LISTEN_FDS");
  EXPECT_EQ(Describe(TakeActivatedListener()), "nullopt env-cleared");
}

TEST(SocketActivationTest, VariablesForAnotherProcessAreIgnoredAndCleared) {
  ::setenv("LISTEN_PID", std::to_string(::getppid()).c_str(), 1);
  ::setenv("LISTEN_FDS", "1", 1);
  ::setenv("LISTEN_FDNAMES", "other", 1);
  EXPECT_EQ(Describe(TakeActivatedListener()), "nullopt env-cleared");
}

TEST(SocketActivationTest, TakesTheListeningSocketAtFd3) {
  const std::string report = RunInChild([]() -> std::string {
    absl::StatusOr<UniqueFd> listener = Listen("127.0.0.1", 0, 16);
    if (!listener.ok()) return listener.status().ToString();
    const int port = *BoundPort(*listener);
    if (!PlaceAtFd3(std::move(*listener))) return "dup2 failed";
    SetActivationEnv("1");

    absl::StatusOr<std::optional<UniqueFd>> taken = TakeActivatedListener();
    std::string report = Describe(taken);
    if (!taken.ok() || !taken->has_value()) return report;
    const UniqueFd& fd = **taken;
    absl::StrAppend(&report, (::fcntl(fd.get(), F_GETFL) & O_NONBLOCK) ? " nonblocking" : "",
                    (::fcntl(fd.get(), F_GETFD) & FD_CLOEXEC) ? " cloexec" : "",
                    *BoundPort(fd) == port ? " same-port" : " other-port");
    // It still accepts the connections made to that address.
    absl::StatusOr<UniqueFd> client = Connect("127.0.0.1", port, absl::Seconds(10));
    if (!client.ok()) return absl::StrCat(report, " connect: ", client.status().ToString());
    if (!WaitFor(fd, POLLIN, absl::Now() + absl::Seconds(10)).ok()) return report + " no-accept";
    UniqueFd accepted(::accept4(fd.get(), nullptr, nullptr, SOCK_CLOEXEC));
    return absl::StrCat(report, accepted.valid() ? " accepts" : " accept-failed");
  });
  EXPECT_EQ(report, "fd 3 env-cleared nonblocking cloexec same-port accepts");
}

TEST(SocketActivationTest, TakesAnIpv6ListeningSocket) {
  if (!Listen("::1", 0, 16).ok()) GTEST_SKIP() << "no IPv6 loopback here";
  const std::string report = RunInChild([]() -> std::string {
    absl::StatusOr<UniqueFd> listener = Listen("::1", 0, 16);
    if (!listener.ok() || !PlaceAtFd3(std::move(*listener))) return "set-up failed";
    SetActivationEnv("1");
    return Describe(TakeActivatedListener());
  });
  EXPECT_EQ(report, "fd 3 env-cleared");
}

TEST(SocketActivationTest, MoreThanOneSocketIsAnError) {
  const std::string report = RunInChild([]() -> std::string {
    absl::StatusOr<UniqueFd> listener = Listen("127.0.0.1", 0, 16);
    if (!listener.ok() || !PlaceAtFd3(std::move(*listener))) return "set-up failed";
    SetActivationEnv("2");
    return Describe(TakeActivatedListener());
  });
  EXPECT_EQ(report,
            "FAILED_PRECONDITION: socket activation: systemd passed 2 sockets (LISTEN_FDS); the "
            "server takes exactly one, so its .socket unit must have a single ListenStream= "
            "env-cleared");
}

TEST(SocketActivationTest, MalformedVariablesAreInvalidArgument) {
  ::setenv("LISTEN_PID", "12x", 1);
  ::setenv("LISTEN_FDS", "1", 1);
  EXPECT_EQ(Describe(TakeActivatedListener()),
            "INVALID_ARGUMENT: socket activation: LISTEN_PID='12x' is not a process id "
            "env-cleared");
  for (const char* fds : {"0", "-1", "one", ""}) {
    ::setenv("LISTEN_PID", std::to_string(::getpid()).c_str(), 1);
    ::setenv("LISTEN_FDS", fds, 1);
    EXPECT_EQ(Describe(TakeActivatedListener()),
              absl::StrCat("INVALID_ARGUMENT: socket activation: LISTEN_FDS='", fds,
                           "' is not a positive number env-cleared"));
  }
}

// What descriptor 3 holds in the cases below, made in the child.
UniqueFd Udp() { return UniqueFd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)); }
UniqueFd UnboundTcp() { return UniqueFd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)); }
UniqueFd ConnectedTcp() {
  // An Accept=yes unit passes a connection, not a listener.
  absl::StatusOr<UniqueFd> listener = Listen("127.0.0.1", 0, 16);
  if (!listener.ok()) return UniqueFd();
  absl::StatusOr<UniqueFd> client = Connect("127.0.0.1", *BoundPort(*listener), absl::Seconds(10));
  return client.ok() ? std::move(*client) : UniqueFd();
}
UniqueFd ListeningUnix() {
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un address{};
  address.sun_family = AF_UNIX;  // autobind: an abstract address of its own
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof(sa_family_t)) != 0 ||
      ::listen(fd.get(), 1) != 0) {
    return UniqueFd();
  }
  return fd;
}
UniqueFd PipeEnd() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return UniqueFd();
  ::close(fds[1]);
  return UniqueFd(fds[0]);
}

TEST(SocketActivationTest, Fd3MustBeAListeningTcpSocket) {
  struct Case {
    const char* name;
    UniqueFd (*make)();
    const char* expected;
  };
  const Case cases[] = {
      {"udp", &Udp, "is not a TCP socket"},
      {"unbound tcp", &UnboundTcp, "is a TCP socket but not listening"},
      {"connected tcp", &ConnectedTcp, "is a TCP socket but not listening"},
      {"unix listener", &ListeningUnix, "is not a TCP socket"},
      {"pipe", &PipeEnd, "is not a socket"},
  };
  for (const Case& c : cases) {
    const std::string report = RunInChild([&c]() -> std::string {
      UniqueFd fd = c.make();
      if (!fd.valid() || !PlaceAtFd3(std::move(fd))) return "set-up failed";
      SetActivationEnv("1");
      std::string report = Describe(TakeActivatedListener());
      // Not taken, so not closed either.
      return absl::StrCat(report, ::fcntl(kListenFdsStart, F_GETFD) != -1 ? " fd3-open" : "");
    });
    EXPECT_EQ(report.rfind("FAILED_PRECONDITION: socket activation: descriptor 3 ", 0), 0u)
        << c.name << ": " << report;
    EXPECT_NE(report.find(c.expected), std::string::npos) << c.name << ": " << report;
    EXPECT_NE(report.find(" env-cleared fd3-open"), std::string::npos) << c.name << ": " << report;
  }

  const std::string closed = RunInChild([]() -> std::string {
    ::close(kListenFdsStart);
    SetActivationEnv("1");
    return Describe(TakeActivatedListener());
  });
  EXPECT_EQ(closed, "FAILED_PRECONDITION: socket activation: descriptor 3 is not open env-cleared");
}

}  // namespace
}  // namespace common
