#include "client/latency_histogram.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_format.h"

namespace client {

// Bucket b >= 1 covers [1024 << b, 2048 << b) in 1024 steps of 1 << b; bucket
// 0 covers [0, 2048) in steps of 1. Index = (b + 1) * 1024 + sub - 1024 for
// b >= 1, i.e. the layout HdrHistogram uses with a unit of 1 ns.
int LatencyHistogram::BucketCount() {
  int buckets = 1;
  int64_t limit = kSubBucketCount;
  while (limit <= kHighestTrackable) {
    limit <<= 1;
    ++buckets;
  }
  return buckets;
}

int LatencyHistogram::IndexOf(int64_t value) {
  value = std::clamp<int64_t>(value, 0, kHighestTrackable);
  if (value < kSubBucketCount) return static_cast<int>(value);
  const int msb = 63 - __builtin_clzll(static_cast<uint64_t>(value));
  const int bucket = msb - kSubBucketBits + 1;  // >= 1
  const int64_t sub = value >> bucket;          // in [1024, 2048)
  return static_cast<int>(bucket * kSubBucketHalf + sub);
}

int64_t LatencyHistogram::HighestEquivalent(int index) {
  if (index < kSubBucketCount) return index;
  const int bucket = static_cast<int>(index / kSubBucketHalf) - 1;
  const int64_t sub = index - bucket * kSubBucketHalf;
  return ((sub + 1) << bucket) - 1;
}

LatencyHistogram::LatencyHistogram()
    : counts_(static_cast<size_t>((BucketCount() + 1) * kSubBucketHalf), 0) {}

void LatencyHistogram::Record(int64_t nanos) {
  ++counts_[static_cast<size_t>(IndexOf(nanos))];
  ++count_;
  sum_ += nanos;
  sum_squares_ += static_cast<double>(nanos) * static_cast<double>(nanos);
  min_ = std::min(min_, nanos);
  max_ = std::max(max_, nanos);
}

void LatencyHistogram::Merge(const LatencyHistogram& other) {
  for (size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  sum_ += other.sum_;
  sum_squares_ += other.sum_squares_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
}

double LatencyHistogram::stddev() const {
  if (count_ == 0) return 0;
  const double m = mean();
  return std::sqrt(std::max(0.0, sum_squares_ / static_cast<double>(count_) - m * m));
}

int64_t LatencyHistogram::Percentile(double q) const {
  if (count_ == 0) return 0;
  const int64_t rank =
      std::max<int64_t>(1, static_cast<int64_t>(std::ceil(q * static_cast<double>(count_))));
  int64_t seen = 0;
  for (size_t i = 0; i < counts_.size(); ++i) {
    seen += counts_[i];
    if (seen >= rank) return std::min(HighestEquivalent(static_cast<int>(i)), max_);
  }
  return max_;
}

std::string LatencyHistogram::PercentileDistribution(double unit_nanos) const {
  std::string out = absl::StrFormat("%12s %14s %10s %14s\n\n", "Value", "Percentile",
                                    "TotalCount", "1/(1-Percentile)");
  // HdrHistogram's PercentileIterator with 5 ticks per half distance: step
  // to each level, print every level the current bucket reaches, and end
  // with one line at 100%.
  constexpr int kTicksPerHalfDistance = 5;
  double level = 0;
  int64_t seen = 0;
  for (size_t i = 0; i < counts_.size() && count_ > 0; ++i) {
    if (counts_[i] == 0) continue;
    seen += counts_[i];
    const double value = static_cast<double>(HighestEquivalent(static_cast<int>(i))) / unit_nanos;
    // As HdrHistogram's iterator: the last bucket prints one line (then the
    // 100% line below).
    const bool last_bucket = seen == count_;
    while (100.0 * static_cast<double>(seen) / static_cast<double>(count_) >= level) {
      absl::StrAppendFormat(&out, "%12.3f %2.12f %10d %14.2f\n", value, level / 100.0, seen,
                            1.0 / (1.0 - level / 100.0));
      const double halvings = std::floor(std::log2(100.0 / (100.0 - level)));
      const double ticks = kTicksPerHalfDistance * std::pow(2.0, halvings + 1);
      level += 100.0 / ticks;
      if (last_bucket) break;
    }
    if (last_bucket) break;
  }
  if (count_ > 0) {
    const int last = IndexOf(max_);
    absl::StrAppendFormat(&out, "%12.3f %2.12f %10d\n",
                          static_cast<double>(HighestEquivalent(last)) / unit_nanos, 1.0, count_);
  }
  absl::StrAppendFormat(&out, "#[Mean    = %12.3f, StdDeviation   = %12.3f]\n",
                        mean() / unit_nanos, stddev() / unit_nanos);
  absl::StrAppendFormat(&out, "#[Max     = %12.3f, Total count    = %12d]\n",
                        static_cast<double>(max_) / unit_nanos, count_);
  absl::StrAppendFormat(&out, "#[Buckets = %12d, SubBuckets     = %12d]\n", BucketCount(),
                        kSubBucketCount);
  return out;
}

}  // namespace client
