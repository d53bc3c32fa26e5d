#ifndef CLIENT_LATENCY_HISTOGRAM_H_
#define CLIENT_LATENCY_HISTOGRAM_H_

// LatencyHistogram: HdrHistogram's bucket layout, written here because
// Debian packages HdrHistogram only for Java and Go, not C or C++.
//
// Values are nanoseconds. Each power-of-two range holds 1024 equal
// sub-buckets (2048 below 2048 ns, which are exact), so any value comes back
// within 1/1024 (< 0.1%: three significant digits) from 1 ns to an hour;
// larger values count as an hour (max() keeps the true maximum). Recording is
// O(1) with no allocation; the counts take a fixed ~270 KiB on the heap.
// Histograms from several threads merge by addition.
//
// WritePercentiles() emits HdrHistogram's percentile-distribution text
// (outputPercentileDistribution: "Value Percentile TotalCount
// 1/(1-Percentile)", five steps per halving of the remaining tail, and the
// "#[Mean = ...]" footer), so HdrHistogram's plotters read it unchanged.
//
// Thread safety: none; give each thread its own and Merge().

#include <cstdint>
#include <string>
#include <vector>

namespace client {

class LatencyHistogram {
 public:
  static constexpr int64_t kHighestTrackable = int64_t{3600} * 1000 * 1000 * 1000;  // 1 h

  LatencyHistogram();

  void Record(int64_t nanos);
  void Merge(const LatencyHistogram& other);

  int64_t count() const { return count_; }
  int64_t max() const { return max_; }
  int64_t min() const { return count_ == 0 ? 0 : min_; }
  double mean() const { return count_ == 0 ? 0 : static_cast<double>(sum_) / count_; }
  double stddev() const;
  // The value at quantile q in [0, 1] (the highest value equivalent to the
  // bucket holding it, capped at max()); 0 when empty.
  int64_t Percentile(double q) const;

  // The percentile distribution in HdrHistogram's text format, values
  // divided by `unit_nanos` (1e6: milliseconds, the plotters' default).
  std::string PercentileDistribution(double unit_nanos = 1e6) const;

 private:
  static constexpr int kSubBucketBits = 11;  // 2048 = 2 * 10^3 rounded up
  static constexpr int64_t kSubBucketCount = int64_t{1} << kSubBucketBits;
  static constexpr int64_t kSubBucketHalf = kSubBucketCount / 2;
  static int BucketCount();
  static int IndexOf(int64_t value);
  static int64_t HighestEquivalent(int index);

  std::vector<int64_t> counts_;
  int64_t count_ = 0;
  int64_t sum_ = 0;
  double sum_squares_ = 0;
  int64_t min_ = INT64_MAX;
  int64_t max_ = 0;
};

}  // namespace client

#endif  // CLIENT_LATENCY_HISTOGRAM_H_
