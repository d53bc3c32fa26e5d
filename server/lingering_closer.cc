#include "server/lingering_closer.h"

#include <sys/socket.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/poller.h"
#include "common/socket.h"
#include "common/thread_starter.h"
#include "glog/logging.h"

namespace server {
namespace {

// Input read and thrown away per socket at most, before closing it anyway.
constexpr size_t kDiscardBudget = 256 * 1024;

}  // namespace

LingeringCloser::LingeringCloser(absl::Duration linger, size_t max_sockets)
    : linger_(linger), max_sockets_(max_sockets) {}

absl::Status LingeringCloser::Start() {
  CHECK(!thread_.joinable()) << "Start() called twice";
  absl::StatusOr<std::unique_ptr<common::EventLoop>> loop = common::EventLoop::Create();
  if (!loop.ok()) {
    return absl::Status(loop.status().code(),
                        absl::StrCat("lingering closer: ", loop.status().message()));
  }
  loop_ = std::move(*loop);
  auto thread = common::StartThread("closer", [this] { loop_->Run(*this); });
  if (!thread.ok()) {
    loop_.reset();
    return thread.status();
  }
  thread_ = std::move(*thread);
  started_.store(true, std::memory_order_release);
  return absl::OkStatus();
}

LingeringCloser::~LingeringCloser() {
  if (thread_.joinable()) Stop(absl::Now());
}

bool LingeringCloser::SayLastLineAndHalfClose(const common::UniqueFd& socket,
                                              absl::string_view last_line, size_t& budget) {
  if (!last_line.empty()) {
    (void)::send(socket.get(), last_line.data(), last_line.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  }
  // Our FIN goes out after everything already sent.
  ::shutdown(socket.get(), SHUT_WR);
  return common::DiscardPendingInput(socket, budget);
}

void LingeringCloser::CloseNow(common::UniqueFd socket, absl::string_view last_line) {
  size_t budget = kDiscardBudget;
  if (socket.valid()) SayLastLineAndHalfClose(socket, last_line, budget);
}

void LingeringCloser::Close(common::UniqueFd socket, absl::string_view last_line) {
  if (!socket.valid()) return;
  size_t budget = kDiscardBudget;
  if (SayLastLineAndHalfClose(socket, last_line, budget)) return;  // nothing to wait for
  if (!started_.load(std::memory_order_acquire) ||
      stop_requested_.load(std::memory_order_acquire) ||
      count_.load(std::memory_order_relaxed) >= static_cast<int64_t>(max_sockets_)) {
    return;  // close now
  }
  count_.fetch_add(1, std::memory_order_relaxed);
  {
    absl::MutexLock lock(&inbox_mu_);
    inbox_.push_back(Entry{std::move(socket), budget, {}});
  }
  loop_->Wake();
}

void LingeringCloser::OnWake(absl::Time now) {
  if (!stopping_ && stop_requested_.load(std::memory_order_acquire)) {
    stopping_ = true;
    stop_deadline_ =
        absl::FromUnixNanos(stop_deadline_ns_.load(std::memory_order_relaxed));
    for (auto& [id, entry] : entries_) {
      loop_->SetDeadline(id, entry.timer, std::min(entry.timer.deadline, stop_deadline_));
    }
  }
  std::vector<Entry> arrived;
  {
    absl::MutexLock lock(&inbox_mu_);
    arrived.swap(inbox_);
  }
  for (Entry& entry : arrived) {
    const uint64_t id = next_id_++;
    // Level-triggered: each report is read until it would block anyway.
    if (!loop_->Watch(entry.socket.get(), id, common::kReadable, common::Trigger::kLevel).ok()) {
      count_.fetch_sub(1, std::memory_order_relaxed);
      continue;  // cannot wait for this one: it closes now
    }
    Entry& stored = entries_.emplace(id, std::move(entry)).first->second;
    loop_->SetDeadline(id, stored.timer, std::min(now + linger_, stop_deadline_));
  }
}

void LingeringCloser::OnReady(uint64_t id, uint32_t /*readiness*/, absl::Time /*now*/) {
  auto it = entries_.find(id);
  if (it == entries_.end()) return;
  if (common::DiscardPendingInput(it->second.socket, it->second.discard_budget)) Erase(id);
}

void LingeringCloser::OnDue(uint64_t id, absl::Time /*now*/) {
  if (entries_.count(id) != 0) Erase(id);
}

common::DeadlineIndex::Entry& LingeringCloser::TimerEntry(uint64_t id) {
  return entries_.at(id).timer;
}

void LingeringCloser::Erase(uint64_t id) {
  auto it = entries_.find(id);
  loop_->ClearDeadline(id, it->second.timer);
  entries_.erase(it);  // closes (a closed descriptor leaves the poller by itself)
  count_.fetch_sub(1, std::memory_order_relaxed);
}

void LingeringCloser::AfterTurn(absl::Time now) {
  if (!stopping_) return;
  if (!entries_.empty() && now < stop_deadline_) return;
  while (!entries_.empty()) Erase(entries_.begin()->first);
  loop_->Quit();
}

void LingeringCloser::Stop(absl::Time deadline) {
  stop_deadline_ns_.store(absl::ToUnixNanos(deadline), std::memory_order_relaxed);
  stop_requested_.store(true, std::memory_order_release);
  if (loop_ != nullptr) loop_->Wake();
  if (thread_.joinable()) thread_.join();
  // Whatever was handed over while the loop ended closes now.
  absl::MutexLock lock(&inbox_mu_);
  count_.fetch_sub(static_cast<int64_t>(inbox_.size()), std::memory_order_relaxed);
  inbox_.clear();
}

}  // namespace server
