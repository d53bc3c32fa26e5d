#include "client/latency_histogram.h"

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
  for (int v = 0; v < 16; ++v) h.Record(v);
  EXPECT_EQ(h.Percentile(0.5), 7);
  EXPECT_EQ(h.Percentile(1.0), 15);
  EXPECT_EQ(h.min(), 0);
}

TEST(LatencyHistogramTest, PercentilesWithinRelativeError) {
  LatencyHistogram h;
  for (int64_t v = 1; v <= 100000; ++v) h.Record(v * 1000);  // 1 us .. 100 ms
  for (double q : {0.5, 0.9, 0.99, 0.999}) {
    const double exact = q * 100000 * 1000;
    const double got = static_cast<double>(h.Percentile(q));
    EXPECT_GE(got, exact * 0.999) << q;
    EXPECT_LE(got, exact * 1.07) << q;  // bucket width is 1/16 of the range
  }
  EXPECT_EQ(h.Percentile(1.0), 100000 * 1000);
  EXPECT_EQ(h.max(), 100000 * 1000);
  EXPECT_DOUBLE_EQ(h.mean(), 50000.5 * 1000);
}

TEST(LatencyHistogramTest, MergeAddsCounts) {
  LatencyHistogram a, b;
  for (int i = 0; i < 90; ++i) a.Record(1000);
  for (int i = 0; i < 10; ++i) b.Record(1000000);
  a.Merge(b);
  EXPECT_EQ(a.count(), 100);
  EXPECT_LE(a.Percentile(0.9), 1100);
  EXPECT_GE(a.Percentile(0.95), 1000000);
  EXPECT_EQ(a.max(), 1000000);
  EXPECT_EQ(a.min(), 1000);
}

}  // namespace
}  // namespace client
