#include "client/open_loop.h"

#include <algorithm>
#include <memory>
#include <thread>
#include <vector>

#include "client/open_loop_worker.h"
#include "common/fd_limit.h"
#include "common/socket.h"

namespace client {

LoadReport RunOpenLoop(const LoadOptions& options) {
  common::RaiseFdLimitToMax();
  LoadReport total;
  total.connections_requested = options.connections;
  total.rate_requested = options.rate;
  total.raw = options.raw;  // for the framing hint
  total.reconnect = options.reconnect;
  total.warmup = options.warmup;
  auto address = common::Resolve(options.host, options.port);
  if (!address.ok()) {
    total.connect_failures = options.connections;
    return total;
  }
  const int threads = std::max(1, std::min(options.threads, options.connections));
  total.generator_threads = threads;
  std::vector<std::unique_ptr<OpenLoopWorker>> workers;
  int next_id = 0;
  for (int t = 0; t < threads; ++t) {
    const int count = options.connections / threads + (t < options.connections % threads ? 1 : 0);
    workers.push_back(std::make_unique<OpenLoopWorker>(options, *address, next_id, count));
    next_id += count;
  }
  const int64_t start = OpenLoopWorker::Now();
  const int64_t counted_from = start + absl::ToInt64Nanoseconds(options.warmup);
  const int64_t end = counted_from + absl::ToInt64Nanoseconds(options.duration);
  std::vector<std::thread> running;
  for (auto& w : workers) {
    OpenLoopWorker* worker = w.get();
    running.emplace_back([worker, start, counted_from, end] {
      worker->Run(start, counted_from, end);
    });
  }
  for (auto& t : running) t.join();
  int64_t stopped = counted_from;
  for (auto& w : workers) {
    stopped = std::max(stopped, w->stopped_at());
    total.AddCounts(w->report());
  }
  total.elapsed = absl::Nanoseconds(stopped - counted_from);
  total.interrupted = options.stop != nullptr && options.stop->load();
  total.all_served_after = absl::ZeroDuration();
  return total;
}

}  // namespace client
