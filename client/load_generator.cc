#include "client/load_generator.h"

#include <algorithm>
#include <cstdio>
#include <memory>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "client/closed_loop_worker.h"
#include "common/fd_limit.h"
#include "common/socket.h"

namespace client {

LoadReport RunLoad(const LoadOptions& options) {
  common::RaiseFdLimitToMax();
  LoadReport total;
  total.connections_requested = options.connections;
  total.mode = options.mode == LoadOptions::Mode::kConnect ? LoadReport::Mode::kConnect
               : options.mode == LoadOptions::Mode::kIdle  ? LoadReport::Mode::kIdle
                                                           : LoadReport::Mode::kPingPong;
  total.raw = options.raw;
  total.reconnect = options.reconnect;
  auto address = common::Resolve(options.host, options.port);
  if (!address.ok()) {
    total.connect_failures = options.connections;
    return total;
  }
  ClosedLoopShared shared;
  if (options.live != nullptr) shared.live = options.live;
  const int threads = std::max(1, std::min(options.threads, options.connections));
  std::vector<std::unique_ptr<ClosedLoopWorker>> workers;
  int next_id = 0;
  for (int t = 0; t < threads; ++t) {
    const int count = options.connections / threads + (t < options.connections % threads ? 1 : 0);
    workers.push_back(
        std::make_unique<ClosedLoopWorker>(options, *address, next_id, count, &shared));
    workers.back()->Seed(static_cast<uint64_t>(t) + 1);
    next_id += count;
  }
  const int64_t start = ClosedLoopNowNanos();
  const int64_t end =
      options.duration > absl::ZeroDuration()
          ? start + absl::ToInt64Nanoseconds(options.duration)
          : 0;
  absl::Notification finished;
  std::thread progress;
  if (options.progress) {
    progress = std::thread([&] {
      int64_t last = 0;
      int second = 0;
      while (!finished.WaitForNotificationWithTimeout(absl::Seconds(1))) {
        const int64_t now = shared.live->round_trips.load(std::memory_order_relaxed);
        std::fprintf(stderr, "\r[%3ds] %8lld rt/s  open %6lld  total %10lld", ++second,
                     static_cast<long long>(now - last),
                     static_cast<long long>(shared.live->open.load(std::memory_order_relaxed)),
                     static_cast<long long>(now));
        std::fflush(stderr);
        last = now;
      }
      std::fprintf(stderr, "\n");
    });
  }
  std::vector<std::thread> running;
  for (auto& w : workers) {
    ClosedLoopWorker* worker = w.get();
    running.emplace_back([worker, start, end] { worker->Run(start, end); });
  }
  for (auto& t : running) t.join();
  total.elapsed = absl::Nanoseconds(ClosedLoopNowNanos() - start);
  finished.Notify();
  if (progress.joinable()) progress.join();
  total.all_served_after = absl::ZeroDuration();
  for (auto& w : workers) {
    const LoadReport& r = w->report();
    total.all_served_after = std::max(total.all_served_after, r.all_served_after);
    total.AddCounts(r);
  }
  return total;
}


}  // namespace client
