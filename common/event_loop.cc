#include "common/event_loop.h"

#include <errno.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "common/socket.h"

namespace common {
namespace {

constexpr size_t kMaxEventsPerTurn = 256;

}  // namespace

absl::StatusOr<std::unique_ptr<EventLoop>> EventLoop::Create(IoBackend backend) {
  absl::StatusOr<std::unique_ptr<Poller>> poller =
      backend == IoBackend::kIoUring ? NewUringPoller() : NewEpollPoller();
  if (!poller.ok()) return poller.status();
  UringPoller* uring =
      backend == IoBackend::kIoUring ? static_cast<UringPoller*>(poller->get()) : nullptr;
  UniqueFd doorbell(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!doorbell.valid()) return ErrnoStatus(errno, "eventfd");
  // Level-triggered: it is drained on every report, so it never spins.
  absl::Status watched =
      (*poller)->Add(doorbell.get(), kReservedToken, kReadable, Trigger::kLevel);
  if (!watched.ok()) return watched;
  return std::unique_ptr<EventLoop>(
      new EventLoop(std::move(*poller), uring, std::move(doorbell)));
}

EventLoop::EventLoop(std::unique_ptr<Poller> poller, UringPoller* uring, UniqueFd doorbell)
    : poller_(std::move(poller)),
      uring_(uring),
      doorbell_(std::move(doorbell)),
      events_(kMaxEventsPerTurn) {}

void EventLoop::Wake() {
  // One eventfd write per batch of wake-ups (see Run() for why that is safe).
  if (wake_pending_.exchange(true, std::memory_order_acq_rel)) return;
  const uint64_t one = 1;
  // Fails only if the counter would overflow, and the loop drains it.
  (void)!::write(doorbell_.get(), &one, sizeof(one));
}

void EventLoop::Run(Handler& handler) {
  quit_ = false;
  if (!bound_) {
    poller_->BindToThread();
    bound_ = true;
  }
  while (!quit_) {
    const absl::Time next = deadlines_.Next();
    // A deadline already passed: poll without sleeping.
    const bool sleeping = next > absl::Now();
    asleep_.store(sleeping, std::memory_order_relaxed);
    const int n = poller_->Wait(sleeping ? next : absl::InfinitePast(), absl::MakeSpan(events_));
    asleep_.store(false, std::memory_order_relaxed);
    const absl::Time now = absl::Now();
    ++turn_;
    handler.OnTurnStart(now);
    for (int i = 0; i < n; ++i) {
      const Poller::Event& event = events_[i];
      if (event.token != kReservedToken) {
        handler.OnReady(event.token, event.readiness, now);
        continue;
      }
      // Drain first, then clear the flag: a Wake() before the clear finds
      // the flag set and writes nothing, but its work is published before
      // its flag update, which this exchange reads, so OnWake below sees it;
      // a Wake() after the clear writes and wakes the next turn. (Clearing
      // first would let a Wake() between clear and drain leave the flag set
      // with the counter drained: every later Wake() would write nothing.)
      uint64_t count;
      (void)!::read(doorbell_.get(), &count, sizeof(count));
      wake_pending_.exchange(false, std::memory_order_acq_rel);
      handler.OnWake(now);
    }
    due_.clear();
    deadlines_.TakeDue(
        now, [&handler](uint64_t token) -> DeadlineIndex::Entry& {
          return handler.TimerEntry(token);
        }, due_);
    for (uint64_t token : due_) handler.OnDue(token, now);
    handler.AfterTurn(now);
  }
  // The last turn's unwatches must reach the kernel even though no wait
  // follows: on io_uring they release the sockets already handed on.
  poller_->SubmitPending();
}

}  // namespace common
