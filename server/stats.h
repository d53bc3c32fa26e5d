#ifndef SERVER_STATS_H_
#define SERVER_STATS_H_

// Stats: the server's counters, bumped lock-free from every thread, and the
// snapshot that the periodic stats line (and the metrics endpoint) read.
//
// Counters are relaxed atomics: each is exact, but a snapshot taken while the
// server runs is not a single instant across counters (fine for monitoring;
// tests read them after the server has stopped). Counters a worker bumps on
// every line live in that worker's own WorkerCounters (one cache line each),
// so workers never write a shared cache line per round trip.

#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "server/duration_histogram.h"

namespace server {

// Why a connection was turned away before its session started.
enum class RejectReason : int {
  kQueueFull,          // hand-off queue full under --overload_policy=reject
  kMaxConnections,     // --max_connections sessions already held
  kNoDescriptors,      // accept() hit EMFILE/ENFILE; shed via the reserved fd
  kEpollRegistration,  // the worker could not watch the socket (ENOSPC, ENOMEM)
  kProxyMissing,       // --proxy_protocol: no PROXY header (or the client left first)
  kProxyMalformed,     // --proxy_protocol: a header that breaks the spec
  kProxyTimeout,       // --proxy_protocol: no complete header in time
  kCount,
};
// Why a session ended badly.
enum class ErrorKind : int {
  kLineTooLong,       // a line over --max_line_bytes
  kWriteTimeout,      // replies made no progress for --write_timeout_ms
  kSlowReader,        // replies waited, never all taken, longer than the idle timeout
  kConnectionReset,   // send/recv failed (reset, broken pipe)
  kCount,
};
inline constexpr int kRejectReasons = static_cast<int>(RejectReason::kCount);
inline constexpr int kErrorKinds = static_cast<int>(ErrorKind::kCount);

// Stable names, used in the stats line and as metric labels.
absl::string_view RejectReasonName(RejectReason reason);
absl::string_view ErrorKindName(ErrorKind kind);

// One worker's share. Written by that worker only (relaxed), read by anyone.
struct alignas(64) WorkerCounters {
  std::atomic<int64_t> sessions{0};  // sessions it holds now
  std::atomic<int64_t> parked{0};    // of those, waiting for the client to send
  std::atomic<int64_t> busy_ns{0};   // time spent running sessions
  std::atomic<int64_t> lines{0};
  std::atomic<int64_t> bytes{0};
  std::atomic<int64_t> sessions_moved{0};  // handed to a less busy peer
  // When the worker's current turn began (Unix ns), 0 while it waits: a
  // turn that never ends means a wedged worker (the health check).
  std::atomic<int64_t> turn_started_ns{0};
  DurationHistogram queue_wait{kQueueWaitBounds};              // accepted -> first turn
  DurationHistogram session_duration{kSessionDurationBounds};  // first turn -> end

  void BeginTurn(absl::Time now) {
    turn_started_ns.store(absl::ToUnixNanos(now), std::memory_order_relaxed);
  }
  void EndTurn() { turn_started_ns.store(0, std::memory_order_relaxed); }
};

// Adds to a counter only its owning thread writes: a plain load and store,
// no locked read-modify-write on the hot path.
inline void AddOwned(std::atomic<int64_t>& counter, int64_t n) {
  counter.store(counter.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

struct WorkerSnapshot {
  int64_t sessions = 0;
  int64_t parked = 0;
  int64_t busy_ns = 0;
  int64_t turn_started_ns = 0;  // 0: waiting
  int64_t sessions_moved = 0;
};

struct StatsSnapshot {
  int64_t accepted = 0;          // connections accepted (served or rejected)
  std::array<int64_t, kRejectReasons> rejected{};
  int64_t open_connections = 0;  // held now: queued + in sessions
  int64_t active_sessions = 0;   // sessions currently owned by workers
  int64_t parked_sessions = 0;   // of those, waiting for input without a thread
  int64_t sessions_completed = 0;
  int64_t queued_now = 0;        // waiting in the hand-off queue
  int64_t queued_peak = 0;
  int64_t lines_echoed = 0;
  int64_t bytes_echoed = 0;      // payload bytes received and echoed back
  int64_t idle_timeouts = 0;
  std::array<int64_t, kErrorKinds> errors{};
  int64_t emfile_episodes = 0;   // runs of accept() failing for lack of fds
  int64_t shutdown_goodbyes = 0; // bye lines sent at shutdown
  int64_t health_checks = 0;     // a proxy's own connections (LOCAL header)
  // Per worker. The stats line shows them for the event model only (a
  // classic worker holds one session at a time, so the split tells nothing).
  std::vector<WorkerSnapshot> workers;
  bool show_workers = true;
  DurationHistogram::Snapshot queue_wait;
  DurationHistogram::Snapshot session_duration;

  int64_t rejected_total() const;
  int64_t errors_total() const;
  // Every counter of the stats line as (key, value), in line order.
  std::vector<std::pair<std::string, int64_t>> Fields() const;
  // One line, "key=value" pairs, for logs and scripts: `accepted` and `open`
  // always, every other counter only when it is not zero (a quiet server's
  // line is short; a key that is absent is 0); then, in the event model, the
  // per-worker lists once any worker has had a session.
  std::string ToString() const;
  // The same with per-second rates since `earlier`, taken `elapsed` before
  // this one, next to their totals: accepted_per_s, lines_per_s,
  // bytes_per_s (also only when not zero).
  std::string ToString(const StatsSnapshot& earlier, absl::Duration elapsed) const;

 private:
  std::string Line(const StatsSnapshot* earlier, absl::Duration elapsed) const;
};

class Stats {
 public:
  std::atomic<int64_t> accepted{0};
  std::atomic<int64_t> open_connections{0};
  std::atomic<int64_t> active_sessions{0};
  std::atomic<int64_t> sessions_completed{0};
  std::atomic<int64_t> idle_timeouts{0};
  std::atomic<int64_t> emfile_episodes{0};
  std::atomic<int64_t> shutdown_goodbyes{0};
  // Connections a proxy opened for itself (a LOCAL PROXY header: its health
  // checks), ended; kept out of sessions_completed and errors.
  std::atomic<int64_t> health_checks{0};

  static void Add(std::atomic<int64_t>& counter, int64_t n = 1) {
    counter.fetch_add(n, std::memory_order_relaxed);
  }
  void Reject(RejectReason reason) { Add(rejected_[static_cast<int>(reason)]); }
  void Error(ErrorKind kind) { Add(errors_[static_cast<int>(kind)]); }

  // Everything, summing lines and bytes over `workers` (where sessions count
  // them); the queue's gauges are left for the caller to fill.
  StatsSnapshot Snapshot(const std::vector<const WorkerCounters*>& workers) const;

 private:
  std::array<std::atomic<int64_t>, kRejectReasons> rejected_{};
  std::array<std::atomic<int64_t>, kErrorKinds> errors_{};
};

}  // namespace server

#endif  // SERVER_STATS_H_
