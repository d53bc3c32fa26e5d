#ifndef SERVER_DURATION_HISTOGRAM_H_
#define SERVER_DURATION_HISTOGRAM_H_

// DurationHistogram: how long something took, counted into fixed buckets in
// the Prometheus style (each bucket counts observations <= its upper bound;
// one more counts the rest), with the sum and the count.
//
// One thread records (a worker, for the sessions it runs) and any thread
// reads: relaxed atomics, a plain load and store per record, no lock. A
// reader sees each field exact but not all fields at one instant, which a
// scrape tolerates. Totals across workers are made by adding snapshots.
//
// Thread safety: Record() from the owning thread only; AddTo() from any.

#include <array>
#include <atomic>
#include <cstdint>
#include <vector>

#include "absl/time/time.h"
#include "absl/types/span.h"

namespace server {

// Upper bounds, in seconds, of the two histograms the server keeps.
// Accepted -> first turn on a worker: microseconds when all is well,
// seconds when the classic pool is saturated.
inline constexpr double kQueueWaitBounds[] = {1e-5, 5e-5, 1e-4, 5e-4, 1e-3, 5e-3, 0.01,
                                              0.05, 0.1,  0.5,  1,    5,    10};
// Session lifetimes: from a probe's milliseconds to hours-long clients.
inline constexpr double kSessionDurationBounds[] = {0.001, 0.01, 0.1, 1,    10,
                                                    60,    300,  1800, 3600, 14400};

class DurationHistogram {
 public:
  static constexpr size_t kMaxBuckets = 16;

  struct Snapshot {
    std::vector<double> upper_bounds;  // seconds, ascending
    std::vector<uint64_t> counts;      // per bucket, not cumulative; one more: +Inf
    uint64_t count = 0;
    double sum_seconds = 0;
  };

  // `upper_bounds` (seconds, ascending, at most kMaxBuckets - 1) must
  // outlive the histogram.
  explicit DurationHistogram(absl::Span<const double> upper_bounds);
  DurationHistogram(const DurationHistogram&) = delete;
  DurationHistogram& operator=(const DurationHistogram&) = delete;

  void Record(absl::Duration d);

  // An empty snapshot with `upper_bounds`, to add histograms into.
  static Snapshot Empty(absl::Span<const double> upper_bounds);

  // Adds this histogram's counts into `total` (whose bounds must match).
  void AddTo(Snapshot& total) const;

 private:
  const absl::Span<const double> upper_bounds_;
  std::array<std::atomic<uint64_t>, kMaxBuckets> counts_{};
  std::atomic<int64_t> sum_ns_{0};
};

}  // namespace server

#endif  // SERVER_DURATION_HISTOGRAM_H_
