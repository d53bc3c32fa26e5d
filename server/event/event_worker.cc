#include "server/event/event_worker.h"

#include <cstring>
#include <limits>
#include <optional>

#include "common/poller.h"
#include "common/socket.h"
#include "common/verbose_log.h"
#include "glog/logging.h"
#include "server/closing_line.h"
#include "server/session/uring_transport.h"

namespace server {
namespace {

// Work sharing (see the header): a session stays at least this long on a
// worker before it may move again, and counts are compared this often.
constexpr absl::Duration kMoveCooldown = absl::Seconds(1);
constexpr absl::Duration kBalanceCheckEvery = absl::Milliseconds(10);

// What a session waiting for `interest` needs to hear about.
uint32_t Wanted(Session::Interest interest) {
  return (interest == Session::Interest::kWrite ? common::kWritable : common::kReadable) |
         common::kHangup;
}

}  // namespace

EventWorker::EventWorker(const WorkerPool::Deps& deps, WorkerCounters* counters,
                         common::IoBackend io)
    : deps_(deps), counters_(counters), io_(io), context_(*deps.config, counters) {}

absl::Status EventWorker::Init() {
  absl::StatusOr<std::unique_ptr<common::EventLoop>> loop = common::EventLoop::Create(io_);
  if (!loop.ok()) return loop.status();
  loop_ = std::move(*loop);
  // A layered transport (TLS) drives its own socket calls, so it runs on
  // io_uring's readiness side; plain sessions run as completions.
  completions_ = loop_->uring() != nullptr && deps_.make_transport == nullptr;
  if (completions_) {
    absl::Status buffers = loop_->uring()->SetUpReceiveBuffers();
    if (!buffers.ok()) {
      LOG(WARNING) << "io_uring: cannot register receive buffers (" << buffers.message()
                   << "); sessions use io_uring readiness instead";
      completions_ = false;
    }
  }
  return absl::OkStatus();
}

void EventWorker::Assign(int n) {
  load_.fetch_add(n, std::memory_order_relaxed);
  assigned_.fetch_add(n, std::memory_order_release);
  loop_->Wake();
}

void EventWorker::Stop(absl::Time grace_deadline) {
  grace_deadline_ns_.store(absl::ToUnixNanos(grace_deadline), std::memory_order_relaxed);
  stop_requested_.store(true, std::memory_order_release);
  loop_->Wake();
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

void EventWorker::Run() { loop_->Run(*this); }

void EventWorker::OnTurnStart(absl::Time now) { counters_->BeginTurn(now); }

void EventWorker::NoticeStop(absl::Time now) {
  // Checked between sessions, not only when the wake-up's turn comes: a busy
  // batch must not delay a stop.
  if (!stopping_ && stop_requested_.load(std::memory_order_acquire)) BeginStop(now);
}

void EventWorker::OnWake(absl::Time now) {
  NoticeStop(now);
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
  slots_.back().generation = 1;  // ids are never 0, the loop's own token
  return static_cast<uint32_t>(slots_.size() - 1);
}

absl::Status EventWorker::Watch(uint32_t index, int fd) {
  return loop_->Watch(fd, IdOf(index), common::kReadable | common::kWritable,
                      common::Trigger::kEdge);
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

std::unique_ptr<Transport> EventWorker::NewTransport(uint32_t index, common::UniqueFd socket) {
  if (completions_) {
    // Half the output bound in flight: the session keeps the rest of it.
    return std::make_unique<UringTransport>(loop_->uring(), std::move(socket), IdOf(index),
                                            deps_.config->max_output_bytes / 2);
  }
  return MakeTransport(deps_, std::move(socket));
}

void EventWorker::StartSession(Connection conn, absl::Time now) {
  const uint32_t index = NewSlot();
  // A completion-based transport reports its own progress: nothing to watch.
  absl::Status watched = completions_ ? absl::OkStatus() : Watch(index, conn.socket.get());
  if (!watched.ok()) {
    // ENOSPC (fs.epoll.max_user_watches) or ENOMEM: this client cannot be
    // served, the others can. Turn it away like any overload; dropping
    // `conn` gives its place in the count back.
    LOG_EVERY_N(WARNING, 1000) << "cannot watch a new connection (" << watched.message()
                               << "); turning it away with the busy line"
                               << (absl::IsResourceExhausted(watched)
                                       ? " (raise fs.epoll.max_user_watches)"
                                       : "");
    free_slots_.push_back(index);
    deps_.stats->Reject(RejectReason::kEpollRegistration);
    load_.fetch_sub(1, std::memory_order_relaxed);
    deps_.closer->Close(std::move(conn.socket),
                        ClosingLine(deps_.config->framing, common::kBusyLine, *deps_.stats));
    return;
  }
  counters_->queue_wait.Record(now - conn.accepted_at);
  Stats::Add(deps_.stats->active_sessions);
  std::string peer = VERBOSE_ON(1) ? common::PeerName(conn.socket) : std::string();
  Install(index,
          std::make_unique<Session>(NewTransport(index, std::move(conn.socket)),
                                    std::move(conn.ticket), deps_.config, deps_.stats, now,
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
  loop_->Wake();
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
    absl::Status watched = Watch(index, session->fd());
    if (!watched.ok()) {
      // The donor's watch was just freed, so this is all but impossible;
      // if the kernel still refuses, the session cannot go on anywhere.
      LOG(WARNING) << "cannot watch a session handed over by a peer (" << watched.message()
                   << "); closing it";
      free_slots_.push_back(index);
      load_.fetch_sub(1, std::memory_order_relaxed);
      RetireSession(*session, deps_, *counters_, now);
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
  if (slot->session->completion_based()) return;  // bound to this worker's ring
  HandOff(static_cast<uint32_t>(candidate), *target, now);
}

void EventWorker::HandOff(uint32_t index, EventWorker& to, absl::Time now) {
  Slot& slot = slots_[index];
  const int fd = slot.session->fd();
  if (!loop_->Unwatch(fd).ok()) return;
  std::unique_ptr<Session> session = std::move(slot.session);
  if (!to.Adopt(session)) {
    // The peer is stopping; keep the session after all.
    slot.session = std::move(session);
    absl::Status watched = Watch(index, fd);
    if (watched.ok()) {
      Drive(index, now);
    } else {
      LOG(WARNING) << "cannot watch a session again (" << watched.message() << "); closing it";
      Release(index, now);
    }
    return;
  }
  FreeSlot(index);
  AddOwned(counters_->sessions_moved, 1);
}

void EventWorker::OnReady(uint64_t id, uint32_t readiness, absl::Time now) {
  NoticeStop(now);
  Slot* slot = Find(id);
  if (slot == nullptr) return;
  // Reported once (edge-triggered), and possibly while the session waits to
  // write: remember it, or a FIN queued behind the last data goes unseen.
  if ((readiness & (common::kHangup | common::kUrgent)) != 0) {
    slot->session->NoteShortReadsUnproven();
  }
  // A client sending more while its replies wait is read after they are
  // flushed; waking the session for it would only repeat a blocked write.
  if ((readiness & Wanted(slot->interest)) == 0) return;
  Drive(static_cast<uint32_t>(id), now);
}

void EventWorker::OnDue(uint64_t id, absl::Time now) {
  if (Find(id) != nullptr) Drive(static_cast<uint32_t>(id), now);
}

common::DeadlineIndex::Entry& EventWorker::TimerEntry(uint64_t id) { return Find(id)->timer; }

void EventWorker::AfterTurn(absl::Time now) {
  ShareWork(now);
  counters_->EndTurn();
  AddOwned(counters_->busy_ns, absl::ToInt64Nanoseconds(absl::Now() - now));
  if (stopping_ && live_ == 0) {
    absl::MutexLock lock(&inbox_mu_);
    if (inbox_.empty()) {
      inbox_closed_ = true;  // peers keep their sessions from now on
      loop_->Quit();
    }
  }
}

void EventWorker::Drive(uint32_t index, absl::Time now) {
  Slot& slot = slots_[index];
  const uint64_t id = IdOf(index);
  if (slot.driven_turn == loop_->turn()) {
    // Already run this turn (it became ready again, or its deadline came):
    // its next run is on the next turn, after everyone else's.
    loop_->SetDeadline(id, slot.timer, now);
    return;
  }
  slot.driven_turn = loop_->turn();
  const Session::Wait wait = slot.session->Resume(now, context_);
  if (wait.interest == Session::Interest::kDone) {
    Release(index, now);
    return;
  }
  slot.interest = wait.interest;
  last_driven_ = id;
  if (wait.interest == Session::Interest::kRead && wait.deadline <= now) {
    yielded_.push_back(id);  // input left, share used up
  }
  const bool parked = wait.interest == Session::Interest::kRead && wait.deadline > now;
  if (parked != slot.parked) {
    slot.parked = parked;
    AddOwned(counters_->parked, parked ? 1 : -1);
  }
  loop_->SetDeadline(id, slot.timer, wait.deadline);
}

void EventWorker::Release(uint32_t index, absl::Time now) {
  Slot& slot = slots_[index];
  // A socket that lingers lives on in the lingering closer: stop watching it
  // here (closing it would, but the closer keeps it open). On io_uring
  // closing would not either: the poll request keeps the socket open.
  if (!slot.session->completion_based() &&
      (slot.session->wants_graceful_close() || loop_->watches_survive_close())) {
    (void)loop_->Unwatch(slot.session->fd());
  }
  RetireSession(*slot.session, deps_, *counters_, now);
  slot.session.reset();  // closes the socket unless the closer took it
  FreeSlot(index);
}

void EventWorker::FreeSlot(uint32_t index) {
  Slot& slot = slots_[index];
  loop_->ClearDeadline(IdOf(index), slot.timer);
  if (slot.parked) AddOwned(counters_->parked, -1);
  slot.parked = false;
  slot.session.reset();
  ++slot.generation;
  if (slot.generation == 0) slot.generation = 1;
  free_slots_.push_back(index);
  --live_;
  load_.fetch_sub(1, std::memory_order_relaxed);
  AddOwned(counters_->sessions, -1);
}

void EventWorker::BeginStop(absl::Time now) {
  stopping_ = true;
  grace_deadline_ = absl::FromUnixNanos(grace_deadline_ns_.load(std::memory_order_relaxed));
  for (uint32_t index = 0; index < slots_.size(); ++index) {
    if (slots_[index].session == nullptr) continue;
    slots_[index].session->BeginShutdown(grace_deadline_);
    slots_[index].driven_turn = 0;  // the stop gets its own run, even this turn
    Drive(index, now);
  }
}

}  // namespace server
