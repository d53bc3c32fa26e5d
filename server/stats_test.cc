#include "server/stats.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace server {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(StatsTest, QuietServerLineIsShort) {
  StatsSnapshot s;
  s.workers.resize(2);
  EXPECT_EQ(s.ToString(), "accepted=0 open=0");
}

TEST(StatsTest, NonZeroCountersAppearInOrder) {
  Stats stats;
  Stats::Add(stats.accepted, 3);
  stats.Reject(RejectReason::kQueueFull);
  stats.Error(ErrorKind::kWriteTimeout);
  WorkerCounters w;
  const std::string line = stats.Snapshot({&w}).ToString();
  EXPECT_EQ(line,
            "accepted=3 rejected=1 rejected_queue_full=1 open=0 errors=1 "
            "errors_write_timeout=1");
  EXPECT_THAT(line, Not(HasSubstr("worker_")));
}

TEST(StatsTest, RatesStandNextToTheirTotals) {
  StatsSnapshot earlier;
  earlier.accepted = 10;
  earlier.lines_echoed = 100;
  StatsSnapshot now = earlier;
  now.accepted = 30;
  now.lines_echoed = 105;
  EXPECT_EQ(now.ToString(earlier, absl::Seconds(10)),
            "accepted=30 accepted_per_s=2.0 open=0 lines=105 lines_per_s=0.5");
  EXPECT_EQ(earlier.ToString(earlier, absl::Seconds(10)), "accepted=10 open=0 lines=100");
  EXPECT_EQ(now.ToString(earlier, absl::ZeroDuration()), now.ToString());
}

TEST(StatsTest, EveryFieldHasAUniqueKey) {
  const auto fields = StatsSnapshot().Fields();
  for (size_t i = 0; i < fields.size(); ++i) {
    for (size_t j = i + 1; j < fields.size(); ++j) EXPECT_NE(fields[i].first, fields[j].first);
  }
  EXPECT_GE(fields.size(), 25u);
}

}  // namespace
}  // namespace server
