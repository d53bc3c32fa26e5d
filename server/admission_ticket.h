#ifndef SERVER_ADMISSION_TICKET_H_
#define SERVER_ADMISSION_TICKET_H_

// AdmissionTicket: a connection's place in the count of connections held
// (queued or in a session), checked against --max_connections.
//
// The acceptor takes a ticket when it admits a connection; the ticket then
// travels with the connection (in Connection, through the queue, into the
// Session) and gives the place back when it is destroyed, however the
// connection ends: served, turned away, refused a watch, handed between
// workers, told goodbye at shutdown. Releasing a ticket is the only way the
// count goes down, so no path can forget it or do it twice.
//
// Thread safety: move-only; a ticket is owned by one thread at a time, and the
// count it points at is atomic.

#include <atomic>
#include <cstdint>

namespace server {

class AdmissionTicket {
 public:
  AdmissionTicket() = default;  // holds no place
  ~AdmissionTicket() { Release(); }
  AdmissionTicket(AdmissionTicket&& other) noexcept : count_(other.count_) {
    other.count_ = nullptr;
  }
  AdmissionTicket& operator=(AdmissionTicket&& other) noexcept {
    if (this != &other) {
      Release();
      count_ = other.count_;
      other.count_ = nullptr;
    }
    return *this;
  }
  AdmissionTicket(const AdmissionTicket&) = delete;
  AdmissionTicket& operator=(const AdmissionTicket&) = delete;

  // A place in `count` if it holds fewer than `limit`; an empty ticket
  // otherwise. Places are taken by one thread (the acceptor), so the check
  // and the increment need not be one atomic step; releases may race with
  // both and only make room.
  static AdmissionTicket TryTake(std::atomic<int64_t>* count, int64_t limit) {
    if (count->load(std::memory_order_relaxed) >= limit) return AdmissionTicket();
    count->fetch_add(1, std::memory_order_relaxed);
    return AdmissionTicket(count);
  }

  bool held() const { return count_ != nullptr; }

 private:
  explicit AdmissionTicket(std::atomic<int64_t>* count) : count_(count) {}
  void Release() {
    if (count_ != nullptr) count_->fetch_sub(1, std::memory_order_relaxed);
    count_ = nullptr;
  }

  std::atomic<int64_t>* count_ = nullptr;
};

}  // namespace server

#endif  // SERVER_ADMISSION_TICKET_H_
