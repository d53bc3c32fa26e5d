#ifndef COMMON_EVENT_LOOP_H_
#define COMMON_EVENT_LOOP_H_

// EventLoop: one thread's loop over a Poller (muduo's EventLoop, Redis's ae):
// ready descriptors, deadlines, and wake-ups from other threads, dispatched
// to one Handler. The server's event workers, its lingering closer and the
// load generator each run one.
//
// A turn: wait until something is ready, the earliest deadline, or Wake();
// then, in order, OnTurnStart, OnWake (if woken), OnReady per ready watch
// (Poller's contract applies: see common/poller.h), OnDue per deadline that
// has passed, AfterTurn. A token whose deadline is set again while its
// OnDue runs is considered on the next turn, not this one, so a handler can
// ask to be called "again soon" (deadline = now) without starving the rest.
//
// Deadlines are kept in a DeadlineIndex (lazy: moving a deadline later
// costs nothing), one per token; the handler stores each token's Entry and
// hands it out through TimerEntry().
//
// Tokens are the caller's (0 is reserved for the loop's own doorbell).
//
// Thread safety: Wake() and asleep() from any thread; Watch() and Unwatch()
// from any thread on epoll (the Poller allows it), from the loop's thread on
// io_uring; everything else from the thread inside Run().

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/deadline_index.h"
#include "common/poller.h"
#include "common/uring_poller.h"
#include "common/unique_fd.h"

namespace common {

class EventLoop {
 public:
  class Handler {
   public:
    virtual ~Handler() = default;
    virtual void OnTurnStart(absl::Time /*now*/) {}
    // Wake() was called since the last turn (once per turn, however often).
    virtual void OnWake(absl::Time /*now*/) {}
    virtual void OnReady(uint64_t token, uint32_t readiness, absl::Time now) = 0;
    // `token`'s deadline has passed; it is no longer filed.
    virtual void OnDue(uint64_t /*token*/, absl::Time /*now*/) {}
    // Where `token`'s deadline entry lives (for tokens with a deadline set).
    virtual DeadlineIndex::Entry& TimerEntry(uint64_t token) = 0;
    virtual void AfterTurn(absl::Time /*now*/) {}
  };

  static constexpr uint64_t kReservedToken = 0;

  // A loop over `backend` with its doorbell; an error if the kernel refuses
  // either. An io_uring loop must be Run() by one thread only (see
  // common/uring_poller.cc), and Watch/Unwatch then come from that thread.
  static absl::StatusOr<std::unique_ptr<EventLoop>> Create(
      IoBackend backend = IoBackend::kEpoll);

  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  absl::Status Watch(int fd, uint64_t token, uint32_t interest, Trigger trigger) {
    return poller_->Add(fd, token, interest, trigger);
  }
  absl::Status Unwatch(int fd) { return poller_->Remove(fd); }

  void SetDeadline(uint64_t token, DeadlineIndex::Entry& entry, absl::Time deadline) {
    deadlines_.Set(token, entry, deadline);
  }
  void ClearDeadline(uint64_t token, DeadlineIndex::Entry& entry) {
    deadlines_.Remove(token, entry);
  }

  // Makes the loop run a turn soon (OnWake). Cheap when a wake-up is already
  // pending.
  void Wake();

  // Runs turns until Quit() is called from inside one.
  void Run(Handler& handler);
  void Quit() { quit_ = true; }

  // Waiting for an event with nothing due: a hint for other threads (stale
  // as soon as read).
  bool asleep() const { return asleep_.load(std::memory_order_relaxed); }
  // Counts turns; a handler uses it to do something at most once per turn.
  uint64_t turn() const { return turn_; }
  const char* backend() const { return poller_->name(); }
  // Closing a watched descriptor does not end its watch: Unwatch first.
  bool watches_survive_close() const { return poller_->watches_survive_close(); }
  // The io_uring backend, for a transport that runs its own socket
  // operations on this loop's ring (from the loop's thread); null on epoll.
  UringPoller* uring() const { return uring_; }

 private:
  EventLoop(std::unique_ptr<Poller> poller, UringPoller* uring, UniqueFd doorbell);

  std::unique_ptr<Poller> poller_;
  UringPoller* uring_ = nullptr;  // poller_, when it is io_uring
  UniqueFd doorbell_;  // eventfd, level-triggered in the poller
  std::atomic<bool> wake_pending_{false};
  std::atomic<bool> asleep_{false};
  DeadlineIndex deadlines_;
  std::vector<Poller::Event> events_;
  std::vector<uint64_t> due_;
  uint64_t turn_ = 0;
  bool quit_ = false;
  bool bound_ = false;  // the poller knows its thread
};

}  // namespace common

#endif  // COMMON_EVENT_LOOP_H_
