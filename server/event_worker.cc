#include "server/event_worker.h"

#include <errno.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cstring>
#include <limits>
#include <optional>

#include "common/protocol.h"
#include "common/socket.h"
#include "common/verbose_log.h"
#include "glog/logging.h"

namespace server {
namespace {

// epoll tag of the doorbell; session ids are (generation << 32 | slot) with
// generations starting at 1, so no session id is ever 0.
constexpr uint64_t kDoorbellTag = 0;
constexpr int kMaxEvents = 256;
// Work sharing (see the header): a session stays at least this long on a
// worker before it may move again, and counts are compared this often.
constexpr absl::Duration kMoveCooldown = absl::Seconds(1);
constexpr absl::Duration kBalanceCheckEvery = absl::Milliseconds(10);

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
  Ring();
}

void EventWorker::Ring() {
  const uint64_t one = 1;
  // Fails only if the counter would overflow: the worker reads it first.
  (void)!::write(doorbell_.get(), &one, sizeof(one));
}

void EventWorker::Stop(absl::Time grace_deadline) {
  grace_deadline_ns_.store(absl::ToUnixNanos(grace_deadline), std::memory_order_relaxed);
  stop_requested_.store(true, std::memory_order_release);
  Ring();
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
    const int timeout = common::PollTimeoutMs(deadlines_.Next());
    asleep_.store(timeout != 0, std::memory_order_relaxed);
    const int n = ::epoll_wait(epoll_.get(), events, kMaxEvents, timeout);
    asleep_.store(false, std::memory_order_relaxed);
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
    ShareWork(now);
    counters_->EndTurn();
    AddOwned(counters_->busy_ns, absl::ToInt64Nanoseconds(absl::Now() - now));
    if (stopping_ && live_ == 0) {
      absl::MutexLock lock(&inbox_mu_);
      if (inbox_.empty()) {
        inbox_closed_ = true;  // peers keep their sessions from now on
        return;
      }
    }
  }
}

void EventWorker::OnDoorbell(absl::Time now) {
  uint64_t rings;
  (void)!::read(doorbell_.get(), &rings, sizeof(rings));
  if (!stopping_ && stop_requested_.load(std::memory_order_acquire)) BeginStop(now);
  TakeInbox(now);
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

uint32_t EventWorker::NewSlot() {
  if (!free_slots_.empty()) {
    const uint32_t index = free_slots_.back();
    free_slots_.pop_back();
    return index;
  }
  slots_.emplace_back();
  slots_.back().generation = 1;
  return static_cast<uint32_t>(slots_.size() - 1);
}

bool EventWorker::Watch(uint32_t index, int fd) {
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  ev.data.u64 = IdOf(index);
  return ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) == 0;
}

void EventWorker::Install(uint32_t index, std::unique_ptr<Session> session, absl::Time now) {
  Slot& slot = slots_[index];
  slot.session = std::move(session);
  slot.interest = Session::Interest::kRead;
  slot.arrived = now;
  ++live_;
  AddOwned(counters_->sessions, 1);
  if (stopping_) slot.session->BeginShutdown(grace_deadline_);
  Drive(index, now);
}

void EventWorker::StartSession(Connection conn, absl::Time now) {
  const uint32_t index = NewSlot();
  if (!Watch(index, conn.socket.get())) {
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
    deps_.closer->Close(std::move(conn.socket),
                      ClosingLineFor(deps_.config->framing, common::kBusyLine));
    return;
  }
  counters_->queue_wait.Record(now - conn.accepted_at);
  Stats::Add(deps_.stats->active_sessions);
  std::string peer = VERBOSE_ON(1) ? common::PeerName(conn.socket) : std::string();
  Install(index,
          std::make_unique<Session>(std::move(conn.socket), deps_.config, deps_.stats, now,
                                    std::move(peer)),
          now);
}

bool EventWorker::Adopt(std::unique_ptr<Session>& session) {
  {
    absl::MutexLock lock(&inbox_mu_);
    if (inbox_closed_) return false;
    inbox_.push_back(std::move(session));
  }
  load_.fetch_add(1, std::memory_order_relaxed);
  Ring();
  return true;
}

void EventWorker::TakeInbox(absl::Time now) {
  std::vector<std::unique_ptr<Session>> arrived;
  {
    absl::MutexLock lock(&inbox_mu_);
    arrived.swap(inbox_);
  }
  for (auto& session : arrived) {
    const uint32_t index = NewSlot();
    if (!Watch(index, session->fd())) {
      // The donor's watch was just freed, so this is all but impossible;
      // if the kernel still refuses, the session cannot go on anywhere.
      PLOG(WARNING) << "cannot watch a session handed over by a peer; closing it";
      free_slots_.push_back(index);
      load_.fetch_sub(1, std::memory_order_relaxed);
      Stats::Add(deps_.stats->active_sessions, -1);
      Stats::Add(deps_.stats->open_connections, -1);
      Stats::Add(deps_.stats->sessions_completed);
      continue;
    }
    Install(index, std::move(session), now);
  }
}

void EventWorker::ShareWork(absl::Time now) {
  const uint64_t hot = yielded_.empty() ? 0 : yielded_.back();
  yielded_.clear();
  const uint64_t candidate = hot != 0 ? hot : last_driven_;
  last_driven_ = 0;
  if (candidate == 0 || stopping_ || peers_.size() < 2) return;
  if (hot == 0) {  // only a count imbalance could justify a move
    if (now < next_balance_check_) return;
    next_balance_check_ = now + kBalanceCheckEvery;
  }
  const int64_t mine = counters_->sessions.load(std::memory_order_relaxed);
  EventWorker* target = nullptr;
  // Hot: any sleeping peer will do, the one holding fewest sessions first.
  // Otherwise only one holding at least two fewer than this worker.
  int64_t fewest = hot != 0 ? std::numeric_limits<int64_t>::max() : mine - 1;
  for (EventWorker* peer : peers_) {
    if (peer == this || !peer->asleep() || peer->stop_requested_.load(std::memory_order_relaxed)) {
      continue;
    }
    const int64_t theirs = peer->counters_->sessions.load(std::memory_order_relaxed);
    if (theirs < fewest) {
      fewest = theirs;
      target = peer;
    }
  }
  Slot* slot = Find(candidate);
  if (target == nullptr || slot == nullptr || now - slot->arrived < kMoveCooldown) return;
  HandOff(static_cast<uint32_t>(candidate), *target, now);
}

void EventWorker::HandOff(uint32_t index, EventWorker& to, absl::Time now) {
  Slot& slot = slots_[index];
  const int fd = slot.session->fd();
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr) != 0) return;
  std::unique_ptr<Session> session = std::move(slot.session);
  if (!to.Adopt(session)) {
    // The peer is stopping; keep the session after all.
    slot.session = std::move(session);
    if (Watch(index, fd)) {
      Drive(index, now);
    } else {
      PLOG(WARNING) << "cannot watch a session again; closing it";
      Release(index, now);
    }
    return;
  }
  deadlines_.Remove(IdOf(index), slot.timer);
  if (slot.parked) AddOwned(counters_->parked, -1);
  slot.parked = false;
  ++slot.generation;
  if (slot.generation == 0) slot.generation = 1;
  free_slots_.push_back(index);
  --live_;
  load_.fetch_sub(1, std::memory_order_relaxed);
  AddOwned(counters_->sessions, -1);
  AddOwned(counters_->sessions_moved, 1);
}

void EventWorker::OnSessionEvent(uint64_t id, uint32_t events, absl::Time now) {
  Slot* slot = Find(id);
  if (slot == nullptr) return;
  // Reported once (edge-triggered), and possibly while the session waits to
  // write: remember it, or a FIN queued behind the last data goes unseen.
  if ((events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0) slot->session->NotePeerHangup();
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
  last_driven_ = IdOf(index);
  if (wait.interest == Session::Interest::kRead && wait.deadline <= now) {
    yielded_.push_back(IdOf(index));  // input left, turn used up
  }
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
