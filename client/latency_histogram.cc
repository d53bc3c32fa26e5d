#include "client/latency_histogram.h"

#include <algorithm>
#include <cmath>

namespace client {

int LatencyHistogram::BucketOf(int64_t value) {
  if (value < (1 << kSubBits)) return static_cast<int>(std::max<int64_t>(value, 0));
  const int msb = 63 - __builtin_clzll(static_cast<uint64_t>(value));
  const int shift = msb - kSubBits;
  const int sub = static_cast<int>((value >> shift) & ((1 << kSubBits) - 1));
  return ((shift + 1) << kSubBits) + sub;
}

int64_t LatencyHistogram::UpperEdge(int bucket) {
  if (bucket < (1 << kSubBits)) return bucket;
  const int shift = (bucket >> kSubBits) - 1;
  const int64_t sub = bucket & ((1 << kSubBits) - 1);
  return (((int64_t{1} << kSubBits) + sub + 1) << shift) - 1;
}

void LatencyHistogram::Record(int64_t nanos) {
  ++counts_[BucketOf(nanos)];
  ++count_;
  sum_ += nanos;
  min_ = std::min(min_, nanos);
  max_ = std::max(max_, nanos);
}

void LatencyHistogram::Merge(const LatencyHistogram& other) {
  for (int i = 0; i < kBuckets; ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  sum_ += other.sum_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
}

int64_t LatencyHistogram::Percentile(double q) const {
  if (count_ == 0) return 0;
  const int64_t rank =
      std::max<int64_t>(1, static_cast<int64_t>(std::ceil(q * static_cast<double>(count_))));
  int64_t seen = 0;
  for (int i = 0; i < kBuckets; ++i) {
    seen += counts_[i];
    if (seen >= rank) return std::min(UpperEdge(i), max_);
  }
  return max_;
}

}  // namespace client
