#include "client/latency_histogram.h"

#include <cmath>
#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace client {
namespace {

TEST(LatencyHistogramTest, EmptyIsZero) {
  LatencyHistogram h;
  EXPECT_EQ(h.count(), 0);
  EXPECT_EQ(h.Percentile(0.99), 0);
  EXPECT_EQ(h.max(), 0);
}

TEST(LatencyHistogramTest, SmallValuesAreExact) {
  LatencyHistogram h;
  for (int v = 0; v < 2048; ++v) h.Record(v);
  EXPECT_EQ(h.Percentile(0.5), 1023);
  EXPECT_EQ(h.Percentile(1.0), 2047);
  EXPECT_EQ(h.min(), 0);
}

// Three significant digits from 1 us to an hour: every value recorded alone
// comes back (as p50, p99 and p100 of a one-value histogram's neighbours)
// within 0.1%.
TEST(LatencyHistogramTest, EveryValueWithinATenthOfAPercent) {
  for (double v = 1000; v <= 3600e9; v *= 1.0137) {
    LatencyHistogram h;
    const int64_t value = static_cast<int64_t>(v);
    h.Record(value);
    h.Record(value + 1);  // so the percentile is not capped by max()
    h.Record(static_cast<int64_t>(v * 1.5));
    const int64_t got = h.Percentile(0.3);
    EXPECT_GE(got, value) << value;
    EXPECT_LE(static_cast<double>(got), static_cast<double>(value) * 1.001 + 1) << value;
  }
}

TEST(LatencyHistogramTest, PercentilesWithinATenthOfAPercent) {
  LatencyHistogram h;
  for (int64_t v = 1; v <= 100000; ++v) h.Record(v * 1000);  // 1 us .. 100 ms
  for (double q : {0.5, 0.9, 0.99, 0.999, 0.9999}) {
    const double exact = std::round(q * 100000) * 1000;
    const double got = static_cast<double>(h.Percentile(q));
    EXPECT_GE(got, exact) << q;
    EXPECT_LE(got, exact * 1.001) << q;
  }
  EXPECT_EQ(h.Percentile(1.0), 100000 * 1000);
  EXPECT_EQ(h.max(), 100000 * 1000);
  EXPECT_DOUBLE_EQ(h.mean(), 50000.5 * 1000);
}

TEST(LatencyHistogramTest, BeyondAnHourCountsAsAnHourButMaxIsTrue) {
  LatencyHistogram h;
  h.Record(LatencyHistogram::kHighestTrackable * 2);
  EXPECT_EQ(h.count(), 1);
  EXPECT_EQ(h.max(), LatencyHistogram::kHighestTrackable * 2);
  EXPECT_GE(h.Percentile(0.5), LatencyHistogram::kHighestTrackable);
}

TEST(LatencyHistogramTest, MergeAddsCounts) {
  LatencyHistogram a, b;
  for (int i = 0; i < 90; ++i) a.Record(1000);
  for (int i = 0; i < 10; ++i) b.Record(1000000);
  a.Merge(b);
  EXPECT_EQ(a.count(), 100);
  EXPECT_EQ(a.Percentile(0.9), 1000);
  EXPECT_GE(a.Percentile(0.95), 1000000);
  EXPECT_EQ(a.max(), 1000000);
  EXPECT_EQ(a.min(), 1000);
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// The layout HdrHistogram's outputPercentileDistribution() writes and its
// plotters parse: a header, a blank line, rows of four columns with
// non-decreasing value and percentile (five rows per halving of the tail), a
// three-column 100% row, and the three "#[...]" footer lines.
TEST(LatencyHistogramTest, PercentileDistributionFormat) {
  LatencyHistogram h;
  for (int64_t v = 1; v <= 10000; ++v) h.Record(v * 1000);  // 1 us .. 10 ms
  const std::vector<std::string> lines = Lines(h.PercentileDistribution(1e6));
  ASSERT_GT(lines.size(), 10u);
  EXPECT_EQ(lines[0], "       Value     Percentile TotalCount 1/(1-Percentile)");
  EXPECT_EQ(lines[1], "");
  // The first row: 1 us in ms, percentile 0, the count so far, 1/(1-0).
  EXPECT_EQ(lines[2], "       0.001 0.000000000000          1           1.00");
  double last_value = 0, last_percentile = -1;
  size_t row = 2;
  int rows_below_half = 0;
  for (; row < lines.size() && lines[row][0] != '#'; ++row) {
    double value, percentile, inverse = 0;
    long long total;
    const int fields = std::sscanf(lines[row].c_str(), "%lf %lf %lld %lf", &value, &percentile,
                                   &total, &inverse);
    ASSERT_GE(fields, 3) << lines[row];
    EXPECT_GE(value, last_value);
    EXPECT_GE(percentile, last_percentile);
    if (percentile < 0.5) ++rows_below_half;
    if (fields == 3) {
      EXPECT_EQ(percentile, 1.0);
      EXPECT_EQ(total, 10000);
      EXPECT_NEAR(value, 10.0, 0.01);
    } else {
      EXPECT_NEAR(inverse, 1.0 / (1.0 - percentile), 0.01);
      EXPECT_NEAR(value * 1000, percentile * 10000, 10 * 1.001 + 1) << lines[row];
    }
    last_value = value;
    last_percentile = percentile;
  }
  EXPECT_EQ(rows_below_half, 5);  // 0, 10, 20, 30, 40%: five ticks per half distance
  ASSERT_EQ(lines.size(), row + 3);
  EXPECT_EQ(lines[row], "#[Mean    =        5.000, StdDeviation   =        2.887]");
  EXPECT_EQ(lines[row + 1], "#[Max     =       10.000, Total count    =        10000]");
  EXPECT_EQ(lines[row + 2].substr(0, 11), "#[Buckets =");
}

}  // namespace
}  // namespace client
