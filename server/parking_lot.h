#ifndef SERVER_PARKING_LOT_H_
#define SERVER_PARKING_LOT_H_

// ParkingLot: where sessions wait, without a thread, for their socket or
// their deadline (the --park_idle_sessions model).
//
// Every session of the parked model lives here from its first Resume() to
// its retirement, identified by a never-reused id. At any moment a session
// is either *running* (claimed by exactly one worker, which alone touches it)
// or *parked* (registered in the shared epoll set with a one-shot interest,
// and in the deadline index). A worker claims a parked session when epoll
// reports its id or when its deadline passes; whichever claims first wins and
// the other finds it not parked and moves on. One-shot registration means the
// kernel reports a parked socket to one worker only, and the claim under the
// lot's mutex makes that exclusive even against the deadline path. Because
// ids are never reused, a stale epoll report for a retired session is
// recognized and ignored.
//
// Deadlines are indexed lazily: a session's index entry may be *earlier*
// than its real deadline (an idle deadline moves forward with every line, and
// re-indexing on each line would cost a tree update per message). When an
// early entry comes due, it is re-filed at the real deadline; a deadline that
// moves earlier is re-indexed at once, so nothing ever fires late.
//
// Thread safety: all methods are thread-safe. The Session* returned by a
// claim may be used only by the claiming worker until it parks or retires it.

#include <cstdint>
#include <memory>
#include <set>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/session.h"

namespace server {

class ParkingLot {
 public:
  // `epoll_fd` is the shared readiness set; ids are stored in event data.
  explicit ParkingLot(int epoll_fd) : epoll_fd_(epoll_fd) {}
  ParkingLot(const ParkingLot&) = delete;
  ParkingLot& operator=(const ParkingLot&) = delete;

  // Takes a new session, registers its socket (disarmed) and returns its id;
  // the caller holds it as claimed (running).
  uint64_t Add(std::unique_ptr<Session> session);

  // Parks a claimed session until its socket is ready for `wait.interest`
  // or `wait.deadline` passes.
  void Park(uint64_t id, const Session::Wait& wait);

  // Claims a parked session reported by epoll; nullptr if it is not parked
  // (claimed by its deadline, or retired).
  Session* Claim(uint64_t id);

  // Claims every parked session whose deadline is <= `now`. Sessions
  // running at the time keep their index entry (their worker sees the
  // deadline itself when it resumes them).
  std::vector<std::pair<uint64_t, Session*>> ClaimExpired(absl::Time now);

  // Claims every parked session (shutdown).
  std::vector<std::pair<uint64_t, Session*>> ClaimAll();

  // Removes a claimed session and hands it back for closing.
  std::unique_ptr<Session> Retire(uint64_t id);

  // The earliest parked deadline (InfiniteFuture if none).
  absl::Time NextDeadline() const;
  size_t size() const;
  size_t parked() const;

 private:
  struct Entry {
    std::unique_ptr<Session> session;
    absl::Time deadline = absl::InfiniteFuture();  // the real one
    absl::Time indexed = absl::InfiniteFuture();   // its key in deadlines_ (<= deadline)
    bool parked = false;
  };
  void UnparkLocked(Entry& entry) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void IndexLocked(uint64_t id, Entry& entry, absl::Time key) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const int epoll_fd_;
  mutable absl::Mutex mu_;
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  std::unordered_map<uint64_t, Entry> entries_ ABSL_GUARDED_BY(mu_);
  // (indexed deadline, id) of every session with a finite deadline.
  std::set<std::pair<absl::Time, uint64_t>> deadlines_ ABSL_GUARDED_BY(mu_);
  size_t parked_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace server

#endif  // SERVER_PARKING_LOT_H_
