#include "server/duration_histogram.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace server {
namespace {

using ::testing::ElementsAre;

constexpr double kBounds[] = {0.001, 0.01, 1};

TEST(DurationHistogramTest, CountsEachObservationInItsBucket) {
  DurationHistogram h(kBounds);
  h.Record(absl::Microseconds(500));   // <= 1 ms
  h.Record(absl::Milliseconds(1));     // <= 1 ms: bounds are inclusive
  h.Record(absl::Milliseconds(5));     // <= 10 ms
  h.Record(absl::Seconds(3));          // above every bound
  DurationHistogram::Snapshot s = DurationHistogram::Empty(kBounds);
  h.AddTo(s);
  EXPECT_THAT(s.upper_bounds, ElementsAre(0.001, 0.01, 1));
  EXPECT_THAT(s.counts, ElementsAre(2, 1, 0, 1));
  EXPECT_EQ(s.count, 4u);
  EXPECT_DOUBLE_EQ(s.sum_seconds, 0.0005 + 0.001 + 0.005 + 3);
}

TEST(DurationHistogramTest, SnapshotsOfSeveralWorkersAddUp) {
  DurationHistogram a(kBounds), b(kBounds);
  a.Record(absl::Milliseconds(2));
  b.Record(absl::Milliseconds(3));
  b.Record(absl::Seconds(1));
  DurationHistogram::Snapshot total = DurationHistogram::Empty(kBounds);
  a.AddTo(total);
  b.AddTo(total);
  EXPECT_THAT(total.counts, ElementsAre(0, 2, 1, 0));
  EXPECT_EQ(total.count, 3u);
  EXPECT_NEAR(total.sum_seconds, 1.005, 1e-9);
}

}  // namespace
}  // namespace server
