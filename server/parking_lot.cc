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
  entries_.emplace(id, Entry{std::move(session), absl::InfiniteFuture(), false});
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
  if (wait.deadline != absl::InfiniteFuture()) deadlines_.emplace(wait.deadline, id);
  // Armed under the lock: once parked, another worker may claim and retire
  // the session, closing its descriptor, so it must not be touched after.
  epoll_event ev{};
  ev.events = EPOLLONESHOT | EPOLLRDHUP |
              (wait.interest == Session::Interest::kWrite ? EPOLLOUT : EPOLLIN);
  ev.data.u64 = id;
  PCHECK(::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, e.session->fd(), &ev) == 0) << "epoll_ctl MOD";
}

void ParkingLot::UnparkLocked(uint64_t id, Entry& entry) {
  entry.parked = false;
  --parked_;
  if (entry.deadline != absl::InfiniteFuture()) deadlines_.erase({entry.deadline, id});
}

Session* ParkingLot::Claim(uint64_t id) {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(id);
  if (it == entries_.end() || !it->second.parked) return nullptr;
  UnparkLocked(id, it->second);
  return it->second.session.get();
}

std::vector<std::pair<uint64_t, Session*>> ParkingLot::ClaimExpired(absl::Time now) {
  std::vector<std::pair<uint64_t, Session*>> out;
  absl::MutexLock lock(&mu_);
  while (!deadlines_.empty() && deadlines_.begin()->first <= now) {
    const uint64_t id = deadlines_.begin()->second;
    Entry& e = entries_.at(id);
    UnparkLocked(id, e);
    out.emplace_back(id, e.session.get());
  }
  return out;
}

std::vector<std::pair<uint64_t, Session*>> ParkingLot::ClaimAll() {
  std::vector<std::pair<uint64_t, Session*>> out;
  absl::MutexLock lock(&mu_);
  for (auto& [id, e] : entries_) {
    if (!e.parked) continue;
    UnparkLocked(id, e);
    out.emplace_back(id, e.session.get());
  }
  return out;
}

std::unique_ptr<Session> ParkingLot::Retire(uint64_t id) {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(id);
  CHECK(it != entries_.end() && !it->second.parked) << "retiring a session not held";
  std::unique_ptr<Session> session = std::move(it->second.session);
  // Deregister now: the socket may outlive this call in the lingering closer.
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, session->fd(), nullptr);
  entries_.erase(it);
  return session;
}

absl::Time ParkingLot::NextDeadline() const {
  absl::MutexLock lock(&mu_);
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
