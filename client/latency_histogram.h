#ifndef CLIENT_LATENCY_HISTOGRAM_H_
#define CLIENT_LATENCY_HISTOGRAM_H_

// LatencyHistogram: log-bucketed latency recorder, HdrHistogram-style.
//
// Values (nanoseconds) land in buckets whose width is 1/16 of their
// power-of-two range, so any percentile is exact to within ~6% relative
// error, recording is O(1) with no allocation, and millions of samples cost
// a fixed ~8 KiB. Histograms from several threads merge by addition.
//
// Thread safety: none; give each thread its own and Merge().

#include <array>
#include <cstdint>

namespace client {

class LatencyHistogram {
 public:
  void Record(int64_t nanos);
  void Merge(const LatencyHistogram& other);

  int64_t count() const { return count_; }
  int64_t max() const { return max_; }
  int64_t min() const { return count_ == 0 ? 0 : min_; }
  double mean() const { return count_ == 0 ? 0 : static_cast<double>(sum_) / count_; }
  // The value at quantile q in [0, 1] (upper edge of its bucket, capped at
  // max()); 0 when empty.
  int64_t Percentile(double q) const;

 private:
  static constexpr int kSubBits = 4;  // 16 sub-buckets per power of two
  static constexpr int kBuckets = 64 << kSubBits;
  static int BucketOf(int64_t value);
  static int64_t UpperEdge(int bucket);

  std::array<int64_t, kBuckets> counts_{};
  int64_t count_ = 0;
  int64_t sum_ = 0;
  int64_t min_ = INT64_MAX;
  int64_t max_ = 0;
};

}  // namespace client

#endif  // CLIENT_LATENCY_HISTOGRAM_H_
