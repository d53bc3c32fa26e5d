#ifndef COMMON_POLLER_H_
#define COMMON_POLLER_H_

// Poller: the readiness backend behind EventLoop, the seam where a second
// backend plugs in. EpollPoller (epoll) is the default; UringPoller
// (common/uring_poller.h, --io=io_uring) reports the same readiness through
// io_uring poll requests, submitting and waiting in one io_uring_enter, and
// also runs the socket operations of a completion-based transport.
//
// A backend watches descriptors, each with a caller-chosen 64-bit token, and
// reports which became ready. Readiness is expressed in backend-neutral bits
// (kReadable, ...), so nothing above this seam names epoll.
//
// The edge-triggered contract (stated here once; everything that registers
// kEdge relies on it): a watch in edge mode is reported when its state
// *changes* (new data arrived, send space opened, the peer hung up), not while
// it stays ready. So whoever handles a report must go on reading until the
// descriptor would block (EAGAIN), or until it has other proof that nothing is
// left (a short TCP read with no hang-up or urgent data reported: see
// server/session/socket_transport.h); otherwise the rest of the input waits for
// an arrival that may never come. Handlers that stop early on purpose (a fair
// share per turn) must schedule themselves again without waiting for an edge.
// Level mode reports for as long as the condition holds.
//
// Thread safety: EpollPoller: Add() and Remove() from any thread (epoll's own
// locking), Wait() from one thread at a time. UringPoller: everything from
// the thread that called BindToThread() (its ring has a single issuer).

#include <cstdint>
#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"

namespace common {

// Readiness bits, in interests and in reports.
inline constexpr uint32_t kReadable = 1u << 0;
inline constexpr uint32_t kWritable = 1u << 1;
// Reported whatever the interest: the peer closed its side or reset, or the
// socket has an error pending. A short read does not prove that no FIN or
// reset is queued behind the data; this report does.
inline constexpr uint32_t kHangup = 1u << 2;
// Reported with kReadable interest: TCP urgent data is pending. recv() stops
// at the urgent mark, so a short read does not prove the queue empty.
inline constexpr uint32_t kUrgent = 1u << 3;

enum class Trigger { kLevel, kEdge };

// Which kernel interface a loop waits in (--io).
enum class IoBackend { kEpoll, kIoUring };

class Poller {
 public:
  struct Event {
    uint64_t token;
    uint32_t readiness;
  };

  virtual ~Poller() = default;

  // Starts watching `fd` for `interest` (kReadable and/or kWritable); reports
  // carry `token`. Fails (ENOSPC when fs.epoll.max_user_watches is reached,
  // ENOMEM, or a descriptor that cannot be polled) with the kernel's reason.
  virtual absl::Status Add(int fd, uint64_t token, uint32_t interest, Trigger trigger) = 0;
  // Stops watching `fd` (closing it also does).
  virtual absl::Status Remove(int fd) = 0;
  // Waits until something is ready or `deadline` passes (InfinitePast: do not
  // wait). Fills `out` from the front; returns how many (0 on timeout or a
  // signal).
  virtual int Wait(absl::Time deadline, absl::Span<Event> out) = 0;
  // For logs: "epoll" or "io_uring".
  virtual const char* name() const = 0;
  // The thread that will call Wait() from now on calls this first.
  virtual void BindToThread() {}
  // Hands the kernel any request queued since the last Wait() (io_uring:
  // removals and cancels, so the sockets they hold are released) and lets
  // cancelled operations finish (a bounded wait). The loop calls it when it
  // stops.
  virtual void SubmitPending() {}
  // True when closing a watched descriptor does not end its watch (an
  // io_uring request holds its own reference to the file, so the socket
  // would stay open): such a backend needs Remove() before every close.
  virtual bool watches_survive_close() const { return false; }
};

// Linux epoll.
absl::StatusOr<std::unique_ptr<Poller>> NewEpollPoller();

// io_uring: one ring (SINGLE_ISSUER | DEFER_TASKRUN, enabled by
// BindToThread), multishot poll requests for edge-triggered watches, one-shot
// ones re-armed after each report for level-triggered watches. Fails with the
// kernel's reason when io_uring_setup is refused (ENOSYS, EPERM under
// seccomp or kernel.io_uring_disabled) or a needed feature is missing.
// Its completion side is in common/uring_poller.h.
absl::StatusOr<std::unique_ptr<Poller>> NewUringPoller();

// Whether this process may use io_uring: sets up and tears down a small ring.
// The error names the reason (for the one log line of the epoll fallback).
absl::Status ProbeIoUring();

// Whether the kernel caps a multishot receive's bytes (kernel 6.17), so
// io_uring sessions receive multishot; otherwise one receive per arrival.
// Asked once per process (a small ring of its own), then remembered.
bool UringReceivesMultishot();

}  // namespace common

#endif  // COMMON_POLLER_H_
