#ifndef COMMON_SOCKET_H_
#define COMMON_SOCKET_H_

// TCP socket set-up and deadline-bounded I/O over non-blocking sockets.
//
// Every socket these functions create is non-blocking and close-on-exec, and
// every send uses MSG_NOSIGNAL: a peer that vanishes mid-write yields EPIPE,
// never a process-killing SIGPIPE. Errors come back as absl::Status carrying
// the errno text (e.g. "bind [::1]:80: Permission denied").
//
// Thread safety: stateless functions; each call uses only the socket passed to
// it, which the calling thread must own for the call's duration.

#include <sys/socket.h>
#include <sys/types.h>

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/unique_fd.h"

namespace common {

// An absl::Status for `err` (an errno value) saying what failed.
absl::Status ErrnoStatus(int err, absl::string_view what);

// Binds and listens on host:port. `host` is a numeric address or a name;
// "::" listens on every IPv6 and IPv4 address, "0.0.0.0" on every IPv4 one.
// Port 0 asks the kernel for any free port (see BoundPort). With
// `reuse_port` (SO_REUSEPORT) several processes may listen on the same port,
// and the kernel spreads new connections across them.
absl::StatusOr<UniqueFd> Listen(absl::string_view host, int port, int backlog,
                                bool reuse_port = false);

// The local port a socket is bound to.
absl::StatusOr<int> BoundPort(const UniqueFd& socket);

// "address:port" of the peer (or "?" if unknown), for logs.
std::string PeerName(const UniqueFd& socket);

// Connects to host:port within `timeout`, trying each resolved address.
absl::StatusOr<UniqueFd> Connect(absl::string_view host, int port, absl::Duration timeout);

// A resolved peer address, for callers that connect many times (the load
// generator) and must not block in connect().
struct SocketAddress {
  sockaddr_storage storage{};
  socklen_t length = 0;
};
absl::StatusOr<SocketAddress> Resolve(absl::string_view host, int port);

// Starts a non-blocking connect. The socket is returned at once; it becomes
// writable when the connect finishes, and ConnectResult() then tells how.
absl::StatusOr<UniqueFd> StartConnect(const SocketAddress& address);
absl::Status ConnectResult(const UniqueFd& socket);

absl::Status SetNonBlocking(const UniqueFd& fd);
absl::Status SetNoDelay(const UniqueFd& socket);

// The poll()/epoll_wait() timeout that ends at `deadline`: -1 (forever) for
// InfiniteFuture, 0 if already past, else milliseconds rounded up (so a wait
// never returns just before its deadline).
int PollTimeoutMs(absl::Time deadline);

// Waits until `events` (POLLIN / POLLOUT) are ready on `fd` or `deadline`
// passes (DeadlineExceeded). absl::InfiniteFuture() waits forever.
absl::Status WaitFor(const UniqueFd& fd, short events, absl::Time deadline);

// Sends all of `data`, waiting for buffer space as needed, until `deadline`.
// DeadlineExceeded if the peer stopped reading; other errors as the errno.
absl::Status SendAll(const UniqueFd& socket, absl::string_view data, absl::Time deadline);

// Receives up to `size` bytes once any are available. Returns 0 at EOF.
absl::StatusOr<size_t> RecvSome(const UniqueFd& socket, char* buffer, size_t size,
                                absl::Time deadline);

// Reads one line, through its '\n', a byte at a time so that nothing after
// it is consumed (for tests and tools, not for hot paths). Returns what was
// read before EOF, an error or `deadline` ("" if nothing).
std::string RecvLine(const UniqueFd& socket, absl::Time deadline);

// Reads whatever is already buffered without waiting, discarding it, but
// no more than `budget` bytes (which it lowers by what it read). Returns true
// if the peer's EOF (or an error) was seen, or the budget ran out: either
// way, nothing more is worth waiting for.
bool DiscardPendingInput(const UniqueFd& socket, size_t& budget);
bool DiscardPendingInput(const UniqueFd& socket);  // an unlimited budget

// Caps the kernel's send and receive buffers (SO_SNDBUF, SO_RCVBUF; the
// kernel doubles the value for its bookkeeping and stops autotuning them).
// Set on a listener, accepted sockets inherit it.
absl::Status SetSocketBuffers(const UniqueFd& socket, int bytes);

}  // namespace common

#endif  // COMMON_SOCKET_H_
