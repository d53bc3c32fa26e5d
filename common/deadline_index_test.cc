#include "common/deadline_index.h"

#include <map>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace common {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

class DeadlineIndexTest : public ::testing::Test {
 protected:
  std::vector<uint64_t> TakeDue(absl::Time now) {
    std::vector<uint64_t> due;
    index_.TakeDue(
        now, [this](uint64_t id) -> DeadlineIndex::Entry& { return entries_[id]; }, due);
    return due;
  }

  const absl::Time t0_ = absl::FromUnixSeconds(1000);
  DeadlineIndex index_;
  std::map<uint64_t, DeadlineIndex::Entry> entries_;
};

TEST_F(DeadlineIndexTest, DueInDeadlineOrder) {
  index_.Set(1, entries_[1], t0_ + absl::Seconds(3));
  index_.Set(2, entries_[2], t0_ + absl::Seconds(1));
  index_.Set(3, entries_[3], absl::InfiniteFuture());  // never due
  EXPECT_EQ(index_.Next(), t0_ + absl::Seconds(1));
  EXPECT_THAT(TakeDue(t0_), IsEmpty());
  EXPECT_THAT(TakeDue(t0_ + absl::Seconds(5)), ElementsAre(2, 1));
  EXPECT_EQ(index_.Next(), absl::InfiniteFuture());
  EXPECT_EQ(index_.size(), 0u);
}

TEST_F(DeadlineIndexTest, LaterDeadlineDoesNotTouchTheIndex) {
  // An idle deadline moving forward with every line stays filed early ...
  index_.Set(1, entries_[1], t0_ + absl::Seconds(10));
  for (int line = 1; line <= 100; ++line) {
    index_.Set(1, entries_[1], t0_ + absl::Seconds(10) + absl::Milliseconds(line));
  }
  EXPECT_EQ(index_.Next(), t0_ + absl::Seconds(10));
  // ... and when that early entry comes due, it is re-filed, not reported.
  EXPECT_THAT(TakeDue(t0_ + absl::Seconds(10)), IsEmpty());
  EXPECT_EQ(index_.Next(), t0_ + absl::Seconds(10) + absl::Milliseconds(100));
  EXPECT_THAT(TakeDue(t0_ + absl::Seconds(11)), ElementsAre(1));
}

TEST_F(DeadlineIndexTest, EarlierDeadlineIsFiledAtOnce) {
  index_.Set(1, entries_[1], t0_ + absl::Seconds(60));  // idle
  index_.Set(1, entries_[1], t0_ + absl::Seconds(5));   // now waiting to write
  EXPECT_EQ(index_.Next(), t0_ + absl::Seconds(5));
  EXPECT_THAT(TakeDue(t0_ + absl::Seconds(5)), ElementsAre(1));
}

TEST_F(DeadlineIndexTest, RemovedEntriesNeverComeDue) {
  index_.Set(1, entries_[1], t0_);
  index_.Set(2, entries_[2], t0_);
  index_.Remove(1, entries_[1]);
  EXPECT_THAT(TakeDue(t0_ + absl::Seconds(1)), ElementsAre(2));
}

TEST_F(DeadlineIndexTest, ASessionThatYieldsIsDueAgainOnTheNextCall) {
  index_.Set(1, entries_[1], t0_);
  ASSERT_THAT(TakeDue(t0_), ElementsAre(1));
  // Its turn used up, the session asks to run again "now".
  index_.Set(1, entries_[1], t0_);
  EXPECT_EQ(index_.Next(), t0_);
  EXPECT_THAT(TakeDue(t0_), ElementsAre(1));
}

}  // namespace
}  // namespace common
