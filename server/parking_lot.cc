#include "server/parking_lot.h"

#include <sys/epoll.h>

#include "glog/logging.h"

namespace server {

uint64_t ParkingLot::Add(std::unique_ptr<Session> session) {
  absl::MutexLock lock(&mu_);
  const uint64_t id = next_id_++;
  epoll_event ev{};
  ev.events = EPOLLONESHOT;  // registered but disarmed until parked
  ev.data.u64 = id;
  PCHECK(::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, session->fd(), &ev) == 0) << "epoll_ctl ADD";
  Entry entry;
  entry.session = std::move(session);
  entries_.emplace(id, std::move(entry));
  return id;
}

void ParkingLot::Park(uint64_t id, const Session::Wait& wait) {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(id);
  CHECK(it != entries_.end() && !it->second.parked) << "parking a session not held";
  Entry& e = it->second;
  e.parked = true;
  e.deadline = wait.deadline;
  ++parked_;
  // Re-index only if the deadline moved earlier than its entry (or has none).
  if (wait.deadline < e.indexed) IndexLocked(id, e, wait.deadline);
  // Armed under the lock: once parked, another worker may claim and retire
  // the session, closing its descriptor, so it must not be touched after.
  epoll_event ev{};
  ev.events = EPOLLONESHOT | EPOLLRDHUP |
              (wait.interest == Session::Interest::kWrite ? EPOLLOUT : EPOLLIN);
  ev.data.u64 = id;
  PCHECK(::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, e.session->fd(), &ev) == 0) << "epoll_ctl MOD";
}

void ParkingLot::IndexLocked(uint64_t id, Entry& entry, absl::Time key) {
  if (entry.indexed != absl::InfiniteFuture()) deadlines_.erase({entry.indexed, id});
  entry.indexed = key;
  if (key != absl::InfiniteFuture()) deadlines_.emplace(key, id);
}

void ParkingLot::UnparkLocked(Entry& entry) {
  entry.parked = false;
  --parked_;
}

Session* ParkingLot::Claim(uint64_t id) {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(id);
  if (it == entries_.end() || !it->second.parked) return nullptr;
  UnparkLocked(it->second);
  return it->second.session.get();
}

std::vector<std::pair<uint64_t, Session*>> ParkingLot::ClaimExpired(absl::Time now) {
  std::vector<std::pair<uint64_t, Session*>> out;
  absl::MutexLock lock(&mu_);
  while (!deadlines_.empty() && deadlines_.begin()->first <= now) {
    const uint64_t id = deadlines_.begin()->second;
    Entry& e = entries_.at(id);
    if (e.deadline > now) {
      IndexLocked(id, e, e.deadline);  // filed early: re-file at the real one
    } else if (e.parked) {
      IndexLocked(id, e, absl::InfiniteFuture());
      UnparkLocked(e);
      out.emplace_back(id, e.session.get());
    } else {
      // Held by a worker right now, which sees the deadline itself; Park()
      // re-indexes it if it is parked again.
      IndexLocked(id, e, absl::InfiniteFuture());
    }
  }
  return out;
}

std::vector<std::pair<uint64_t, Session*>> ParkingLot::ClaimAll() {
  std::vector<std::pair<uint64_t, Session*>> out;
  absl::MutexLock lock(&mu_);
  for (auto& [id, e] : entries_) {
    if (!e.parked) continue;
    UnparkLocked(e);
    IndexLocked(id, e, absl::InfiniteFuture());
    out.emplace_back(id, e.session.get());
  }
  return out;
}

std::unique_ptr<Session> ParkingLot::Retire(uint64_t id) {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(id);
  CHECK(it != entries_.end() && !it->second.parked) << "retiring a session not held";
  IndexLocked(id, it->second, absl::InfiniteFuture());
  std::unique_ptr<Session> session = std::move(it->second.session);
  // Deregister now: the socket may outlive this call in the lingering closer.
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, session->fd(), nullptr);
  entries_.erase(it);
  return session;
}

absl::Time ParkingLot::NextDeadline() const {
  absl::MutexLock lock(&mu_);
  // May be early (see the class comment): a spurious wake-up re-files it.
  return deadlines_.empty() ? absl::InfiniteFuture() : deadlines_.begin()->first;
}

size_t ParkingLot::size() const {
  absl::MutexLock lock(&mu_);
  return entries_.size();
}

size_t ParkingLot::parked() const {
  absl::MutexLock lock(&mu_);
  return parked_;
}

}  // namespace server
