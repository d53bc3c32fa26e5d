#include "server/worker_pool.h"

#include "glog/logging.h"

namespace server {

WorkerPool::WorkerPool(int workers, const Deps& deps) : deps_(deps) {
  CHECK_GT(workers, 0);
  counters_.reserve(workers);
  for (int i = 0; i < workers; ++i) counters_.push_back(std::make_unique<WorkerCounters>());
}

std::vector<const WorkerCounters*> WorkerPool::counters() const {
  std::vector<const WorkerCounters*> out;
  out.reserve(counters_.size());
  for (const auto& c : counters_) out.push_back(c.get());
  return out;
}

void RetireSession(Session& session, const WorkerPool::Deps& deps, WorkerCounters& counters,
                   absl::Time now) {
  if (session.wants_graceful_close()) deps.closer->Close(session.ReleaseSocket());
  counters.session_duration.Record(now - session.started());
  AddOwned(counters.sessions, -1);
  Stats::Add(deps.stats->active_sessions, -1);
  Stats::Add(deps.stats->open_connections, -1);
  Stats::Add(deps.stats->sessions_completed);
}

}  // namespace server
