#ifndef SERVER_STATS_H_
#define SERVER_STATS_H_

// Stats: the server's counters, bumped lock-free from every thread.
//
// Counters are relaxed atomics: each is exact, but a snapshot taken while the
// server runs is not a single instant across counters (fine for monitoring;
// tests read them after the server has stopped).

#include <atomic>
#include <cstdint>
#include <string>

namespace server {

struct StatsSnapshot {
  int64_t accepted = 0;          // connections accepted (served or rejected)
  int64_t rejected_busy = 0;     // answered with the busy line
  int64_t active_sessions = 0;   // sessions currently owned by the server
  int64_t parked_sessions = 0;   // of those, parked waiting for input
  int64_t sessions_completed = 0;
  int64_t queued_now = 0;        // waiting in the hand-off queue
  int64_t queued_peak = 0;
  int64_t lines_echoed = 0;
  int64_t bytes_echoed = 0;      // payload bytes received and echoed back
  int64_t idle_timeouts = 0;
  int64_t errors = 0;            // line too long, write timeout, resets, ...
  int64_t emfile_episodes = 0;   // runs of accept() failing for lack of fds
  int64_t shutdown_goodbyes = 0; // bye lines sent at shutdown

  // One line, "key=value" pairs, for logs and scripts.
  std::string ToString() const;
};

class Stats {
 public:
  std::atomic<int64_t> accepted{0};
  std::atomic<int64_t> rejected_busy{0};
  std::atomic<int64_t> active_sessions{0};
  std::atomic<int64_t> sessions_completed{0};
  std::atomic<int64_t> lines_echoed{0};
  std::atomic<int64_t> bytes_echoed{0};
  std::atomic<int64_t> idle_timeouts{0};
  std::atomic<int64_t> errors{0};
  std::atomic<int64_t> emfile_episodes{0};
  std::atomic<int64_t> shutdown_goodbyes{0};

  static void Add(std::atomic<int64_t>& counter, int64_t n = 1) {
    counter.fetch_add(n, std::memory_order_relaxed);
  }

  // Gauges owned elsewhere (queue, parking lot) are passed in.
  StatsSnapshot Snapshot(int64_t queued_now, int64_t queued_peak, int64_t parked_now) const;
};

}  // namespace server

#endif  // SERVER_STATS_H_
