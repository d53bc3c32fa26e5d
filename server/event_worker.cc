#include "server/event_worker.h"

#include <errno.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cstring>
#include <optional>

#include "common/protocol.h"
#include "common/socket.h"
#include "glog/logging.h"

namespace server {
namespace {

// epoll tag of the doorbell; session ids are (generation << 32 | slot) with
// generations starting at 1, so no session id is ever 0.
constexpr uint64_t kDoorbellTag = 0;
constexpr int kMaxEvents = 256;

// What a session waiting for `interest` needs to hear about.
uint32_t Wanted(Session::Interest interest) {
  return (interest == Session::Interest::kWrite ? EPOLLOUT : EPOLLIN | EPOLLRDHUP) |
         EPOLLERR | EPOLLHUP;
}

}  // namespace

EventWorker::EventWorker(const WorkerPool::Deps& deps, WorkerCounters* counters)
    : deps_(deps), counters_(counters), context_(*deps.config, counters) {}

absl::Status EventWorker::Init() {
  epoll_.Reset(::epoll_create1(EPOLL_CLOEXEC));
  if (!epoll_.valid()) return common::ErrnoStatus(errno, "epoll_create1");
  doorbell_.Reset(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!doorbell_.valid()) return common::ErrnoStatus(errno, "eventfd");
  epoll_event ev{};
  ev.events = EPOLLIN;  // level-triggered: read on every report, so it never spins
  ev.data.u64 = kDoorbellTag;
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, doorbell_.get(), &ev) != 0) {
    return common::ErrnoStatus(errno, "epoll_ctl(doorbell)");
  }
  return absl::OkStatus();
}

void EventWorker::Assign(int n) {
  load_.fetch_add(n, std::memory_order_relaxed);
  assigned_.fetch_add(n, std::memory_order_release);
  const uint64_t one = 1;
  // Fails only if the counter would overflow: the worker reads it first.
  (void)!::write(doorbell_.get(), &one, sizeof(one));
}

void EventWorker::Stop(absl::Time grace_deadline) {
  grace_deadline_ns_.store(absl::ToUnixNanos(grace_deadline), std::memory_order_relaxed);
  stop_requested_.store(true, std::memory_order_release);
  const uint64_t one = 1;
  (void)!::write(doorbell_.get(), &one, sizeof(one));
}

uint64_t EventWorker::IdOf(uint32_t index) const {
  return (uint64_t{slots_[index].generation} << 32) | index;
}

EventWorker::Slot* EventWorker::Find(uint64_t id) {
  const uint32_t index = static_cast<uint32_t>(id);
  if (index >= slots_.size()) return nullptr;
  Slot& slot = slots_[index];
  if (slot.session == nullptr || slot.generation != static_cast<uint32_t>(id >> 32)) {
    return nullptr;  // ended (and possibly reused) since the event was queued
  }
  return &slot;
}

void EventWorker::Run() {
  epoll_event events[kMaxEvents];
  for (;;) {
    const int n = ::epoll_wait(epoll_.get(), events, kMaxEvents,
                               common::PollTimeoutMs(deadlines_.Next()));
    const absl::Time now = absl::Now();
    counters_->BeginTurn(now);
    if (n < 0) PCHECK(errno == EINTR) << "epoll_wait";
    for (int i = 0; i < n; ++i) {
      // A stop is noticed between sessions, not only when the doorbell's
      // turn in this batch comes: a busy batch must not delay it.
      if (!stopping_ && stop_requested_.load(std::memory_order_acquire)) BeginStop(now);
      if (events[i].data.u64 == kDoorbellTag) {
        OnDoorbell(now);
      } else {
        OnSessionEvent(events[i].data.u64, events[i].events, now);
      }
    }
    RunDue(now);
    counters_->EndTurn();
    AddOwned(counters_->busy_ns, absl::ToInt64Nanoseconds(absl::Now() - now));
    if (stopping_ && live_ == 0) return;
  }
}

void EventWorker::OnDoorbell(absl::Time now) {
  uint64_t rings;
  (void)!::read(doorbell_.get(), &rings, sizeof(rings));
  if (!stopping_ && stop_requested_.load(std::memory_order_acquire)) BeginStop(now);
  for (int64_t n = assigned_.exchange(0, std::memory_order_acquire); n > 0; --n) {
    std::optional<Connection> conn = deps_.queue->TryPop();
    if (!conn) {
      // Closed at shutdown: the server told that client goodbye itself.
      load_.fetch_sub(1, std::memory_order_relaxed);
      continue;
    }
    StartSession(std::move(*conn), now);
  }
}

void EventWorker::StartSession(Connection conn, absl::Time now) {
  uint32_t index;
  if (!free_slots_.empty()) {
    index = free_slots_.back();
    free_slots_.pop_back();
  } else {
    index = static_cast<uint32_t>(slots_.size());
    slots_.emplace_back();
    slots_.back().generation = 1;
  }
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  ev.data.u64 = IdOf(index);
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, conn.socket.get(), &ev) != 0) {
    // ENOSPC (fs.epoll.max_user_watches) or ENOMEM: this client cannot be
    // served, the others can. Turn it away like any overload.
    const int err = errno;
    LOG_EVERY_N(WARNING, 1000) << "cannot watch a new connection (" << std::strerror(err)
                               << "); turning it away with the busy line"
                               << (err == ENOSPC ? " (raise fs.epoll.max_user_watches)" : "");
    free_slots_.push_back(index);
    deps_.stats->Reject(RejectReason::kEpollRegistration);
    Stats::Add(deps_.stats->open_connections, -1);
    load_.fetch_sub(1, std::memory_order_relaxed);
    deps_.closer->Close(std::move(conn.socket), deps_.config->framing == Framing::kLine
                                                    ? common::kBusyLine
                                                    : absl::string_view());
    return;
  }
  counters_->queue_wait.Record(now - conn.accepted_at);
  std::string peer = VLOG_IS_ON(1) ? common::PeerName(conn.socket) : std::string();
  Slot& slot = slots_[index];
  slot.session =
      std::make_unique<Session>(std::move(conn.socket), deps_.config, deps_.stats, now,
                                std::move(peer));
  slot.interest = Session::Interest::kRead;
  ++live_;
  AddOwned(counters_->sessions, 1);
  Stats::Add(deps_.stats->active_sessions);
  if (stopping_) slot.session->BeginShutdown(grace_deadline_);
  Drive(index, now);
}

void EventWorker::OnSessionEvent(uint64_t id, uint32_t events, absl::Time now) {
  Slot* slot = Find(id);
  if (slot == nullptr) return;
  // A client sending more while its replies wait is read after they are
  // flushed; waking the session for it would only repeat a blocked send().
  if ((events & Wanted(slot->interest)) == 0) return;
  Drive(static_cast<uint32_t>(id), now);
}

void EventWorker::RunDue(absl::Time now) {
  due_.clear();
  deadlines_.TakeDue(
      now, [this](uint64_t id) -> DeadlineIndex::Entry& { return Find(id)->timer; }, due_);
  for (uint64_t id : due_) {
    if (Find(id) != nullptr) Drive(static_cast<uint32_t>(id), now);
  }
}

void EventWorker::Drive(uint32_t index, absl::Time now) {
  Slot& slot = slots_[index];
  const Session::Wait wait = slot.session->Resume(now, context_);
  if (wait.interest == Session::Interest::kDone) {
    Release(index, now);
    return;
  }
  slot.interest = wait.interest;
  const bool parked = wait.interest == Session::Interest::kRead && wait.deadline > now;
  if (parked != slot.parked) {
    slot.parked = parked;
    AddOwned(counters_->parked, parked ? 1 : -1);
  }
  deadlines_.Set(IdOf(index), slot.timer, wait.deadline);
}

void EventWorker::Release(uint32_t index, absl::Time now) {
  Slot& slot = slots_[index];
  deadlines_.Remove(IdOf(index), slot.timer);
  if (slot.parked) AddOwned(counters_->parked, -1);
  slot.parked = false;
  if (slot.session->wants_graceful_close()) {
    // The socket lives on in the lingering closer: stop watching it here.
    ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, slot.session->fd(), nullptr);
  }
  RetireSession(*slot.session, deps_, *counters_, now);
  slot.session.reset();  // closes the socket (and with it its epoll watch)
  ++slot.generation;
  if (slot.generation == 0) slot.generation = 1;
  free_slots_.push_back(index);
  --live_;
  load_.fetch_sub(1, std::memory_order_relaxed);
}

void EventWorker::BeginStop(absl::Time now) {
  stopping_ = true;
  grace_deadline_ = absl::FromUnixNanos(grace_deadline_ns_.load(std::memory_order_relaxed));
  for (uint32_t index = 0; index < slots_.size(); ++index) {
    if (slots_[index].session == nullptr) continue;
    slots_[index].session->BeginShutdown(grace_deadline_);
    Drive(index, now);
  }
}

}  // namespace server
