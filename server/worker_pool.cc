#include "server/worker_pool.h"

#include <utility>

#include "glog/logging.h"
#include "server/session/socket_transport.h"

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

std::unique_ptr<Transport> MakeTransport(const WorkerPool::Deps& deps, common::UniqueFd socket) {
  if (deps.make_transport) return deps.make_transport(std::move(socket));
  return std::make_unique<SocketTransport>(std::move(socket));
}

void RetireSession(Session& session, const WorkerPool::Deps& deps, WorkerCounters& counters,
                   absl::Time now) {
  if (session.wants_graceful_close()) deps.closer->Close(session.ReleaseSocket());
  Stats::Add(deps.stats->active_sessions, -1);
  if (session.health_check()) {
    Stats::Add(deps.stats->health_checks);
    return;
  }
  counters.session_duration.Record(now - session.started());
  Stats::Add(deps.stats->sessions_completed);
}

}  // namespace server
