#include "server/duration_histogram.h"

#include <algorithm>

#include "glog/logging.h"

namespace server {

DurationHistogram::DurationHistogram(absl::Span<const double> upper_bounds)
    : upper_bounds_(upper_bounds) {
  CHECK_LT(upper_bounds.size(), kMaxBuckets);
  CHECK(std::is_sorted(upper_bounds.begin(), upper_bounds.end()));
}

void DurationHistogram::Record(absl::Duration d) {
  const double seconds = absl::ToDoubleSeconds(d);
  const size_t bucket =
      std::lower_bound(upper_bounds_.begin(), upper_bounds_.end(), seconds) - upper_bounds_.begin();
  // Single writer: load + store instead of a locked read-modify-write.
  counts_[bucket].store(counts_[bucket].load(std::memory_order_relaxed) + 1,
                        std::memory_order_relaxed);
  sum_ns_.store(sum_ns_.load(std::memory_order_relaxed) + absl::ToInt64Nanoseconds(d),
                std::memory_order_relaxed);
}

DurationHistogram::Snapshot DurationHistogram::Empty(absl::Span<const double> upper_bounds) {
  Snapshot s;
  s.upper_bounds.assign(upper_bounds.begin(), upper_bounds.end());
  s.counts.assign(upper_bounds.size() + 1, 0);
  return s;
}

void DurationHistogram::AddTo(Snapshot& total) const {
  CHECK(total.upper_bounds == std::vector<double>(upper_bounds_.begin(), upper_bounds_.end()));
  for (size_t i = 0; i <= upper_bounds_.size(); ++i) {
    const uint64_t n = counts_[i].load(std::memory_order_relaxed);
    total.counts[i] += n;
    total.count += n;
  }
  total.sum_seconds += static_cast<double>(sum_ns_.load(std::memory_order_relaxed)) / 1e9;
}

}  // namespace server
