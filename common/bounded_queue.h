#ifndef COMMON_BOUNDED_QUEUE_H_
#define COMMON_BOUNDED_QUEUE_H_

// BoundedQueue<T>: a fixed-capacity, closable, blocking FIFO.
//
// The hand-off between the server's acceptor (producer) and its workers
// (consumers). The bound is the point: an unbounded queue in front of a
// saturated pool turns overload into unbounded latency and memory, the
// failure of the thread-per-client design this server replaces. Producers
// choose the overload policy per call:
//
//   TryPush()        never blocks; fails when full (the `reject` policy).
//   Push()           blocks while full (the `block` policy).
//   WaitForSpace()   blocks until a Push would not block, without pushing, so a
//                    single producer can decide *before* accepting a connection.
//
// Close() is the shutdown signal: afterwards every push fails, every blocked
// or future Pop()/Push()/WaitForSpace() returns at once, and the items still
// queued stay put until TakeAll() hands them to the caller (the server tells
// those clients goodbye itself rather than starting their sessions).
//
// Consumers either block in Pop() (the classic pool) or are told by the
// producer how many items are theirs and TryPop() them (the event pool,
// whose workers wait in epoll for other things too).
//
// Thread safety: all methods may be called concurrently from any thread.
// T must be movable; items move in and out, so move-only types (a connection
// owning its socket) work.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "glog/logging.h"

namespace common {

template <typename T>
class BoundedQueue {
 public:
  explicit BoundedQueue(size_t capacity) : capacity_(capacity) {
    CHECK_GT(capacity, 0u) << "a zero-capacity queue can never accept an item";
  }
  BoundedQueue(const BoundedQueue&) = delete;
  BoundedQueue& operator=(const BoundedQueue&) = delete;

  // Adds `item` if there is room and the queue is open. On failure `item` is
  // left untouched so the caller still owns it (e.g. to send a busy line).
  bool TryPush(T& item) {
    absl::MutexLock lock(&mu_);
    if (closed_ || items_.size() >= capacity_) return false;
    PushLocked(std::move(item));
    return true;
  }

  // Waits for room, then adds `item`. Returns false (item untouched) if the
  // queue is or becomes closed.
  bool Push(T& item) {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(this, &BoundedQueue::HasSpaceOrClosed));
    if (closed_) return false;
    PushLocked(std::move(item));
    return true;
  }

  // Waits until the queue has room. Returns false if it is or becomes closed.
  bool WaitForSpace() {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(this, &BoundedQueue::HasSpaceOrClosed));
    return !closed_;
  }

  // Waits for an item. Returns nullopt once the queue is closed.
  std::optional<T> Pop() {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(this, &BoundedQueue::HasItemOrClosed));
    if (closed_) return std::nullopt;
    return PopLocked();
  }

  // Returns an item if one is queued, without waiting.
  std::optional<T> TryPop() {
    absl::MutexLock lock(&mu_);
    if (closed_ || items_.empty()) return std::nullopt;
    return PopLocked();
  }

  // Refuses all further pushes and wakes every waiter. Idempotent.
  void Close() {
    absl::MutexLock lock(&mu_);
    closed_ = true;
  }

  // Removes and returns everything still queued (normally after Close()).
  std::vector<T> TakeAll() {
    absl::MutexLock lock(&mu_);
    std::vector<T> out;
    out.reserve(items_.size());
    for (T& item : items_) out.push_back(std::move(item));
    items_.clear();
    return out;
  }

  size_t size() const {
    absl::MutexLock lock(&mu_);
    return items_.size();
  }
  // The largest size() ever observed.
  size_t peak_size() const {
    absl::MutexLock lock(&mu_);
    return peak_;
  }
  size_t capacity() const { return capacity_; }
  bool closed() const {
    absl::MutexLock lock(&mu_);
    return closed_;
  }

 private:
  bool HasSpaceOrClosed() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return closed_ || items_.size() < capacity_;
  }
  bool HasItemOrClosed() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return closed_ || !items_.empty();
  }
  void PushLocked(T item) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    items_.push_back(std::move(item));
    if (items_.size() > peak_) peak_ = items_.size();
  }
  T PopLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    T item = std::move(items_.front());
    items_.pop_front();
    return item;
  }

  const size_t capacity_;
  mutable absl::Mutex mu_;
  std::deque<T> items_ ABSL_GUARDED_BY(mu_);
  size_t peak_ ABSL_GUARDED_BY(mu_) = 0;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace common

#endif  // COMMON_BOUNDED_QUEUE_H_
