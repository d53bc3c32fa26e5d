#include "server/event/event_pool.h"

#include "absl/strings/str_cat.h"
#include "common/thread_starter.h"
#include "glog/logging.h"

namespace server {

EventPool::EventPool(int workers, const Deps& deps, common::IoBackend io)
    : WorkerPool(workers, deps) {
  std::vector<EventWorker*> peers;
  for (int i = 0; i < workers; ++i) {
    workers_.push_back(std::make_unique<EventWorker>(deps, &counters(i), io));
    peers.push_back(workers_.back().get());
  }
  for (auto& worker : workers_) worker->SetPeers(peers);
  picked_.resize(workers);
}

EventPool::~EventPool() {
  if (!threads_.empty()) StopAndJoin(absl::Now());
}

absl::Status EventPool::Start() {
  CHECK(threads_.empty()) << "Start() called twice";
  for (auto& worker : workers_) {
    absl::Status ready = worker->Init();
    if (!ready.ok()) return ready;
  }
  for (size_t i = 0; i < workers_.size(); ++i) {
    EventWorker* worker = workers_[i].get();
    auto thread = common::StartThread(absl::StrCat("worker-", i), [worker] { worker->Run(); });
    if (!thread.ok()) {
      StopAndJoin(absl::Now());
      return absl::ResourceExhaustedError(absl::StrCat("worker thread ", i + 1, " of ",
                                                       workers_.size(), ": ",
                                                       thread.status().message()));
    }
    threads_.push_back(std::move(*thread));
  }
  return absl::OkStatus();
}

void EventPool::OnQueued(int n) {
  const size_t size = workers_.size();
  std::fill(picked_.begin(), picked_.end(), 0);
  for (int i = 0; i < n; ++i) {
    size_t best = next_;
    int64_t best_load = workers_[best]->load() + picked_[best];
    for (size_t k = 1; k < size; ++k) {
      const size_t w = (next_ + k) % size;
      const int64_t load = workers_[w]->load() + picked_[w];
      if (load < best_load) {
        best = w;
        best_load = load;
      }
    }
    ++picked_[best];
    next_ = (best + 1) % size;
  }
  for (size_t w = 0; w < size; ++w) {
    if (picked_[w] > 0) workers_[w]->Assign(static_cast<int>(picked_[w]));
  }
}

void EventPool::Shutdown(absl::Time grace_deadline) { StopAndJoin(grace_deadline); }

void EventPool::StopAndJoin(absl::Time grace_deadline) {
  for (size_t i = 0; i < threads_.size(); ++i) workers_[i]->Stop(grace_deadline);
  for (auto& t : threads_) t.join();
  threads_.clear();
}

}  // namespace server
