#include "server/admission_ticket.h"

#include <utility>
#include <vector>

#include "gtest/gtest.h"

namespace server {
namespace {

TEST(AdmissionTicketTest, TakesPlacesUpToTheLimitAndGivesThemBackOnce) {
  std::atomic<int64_t> open{0};
  {
    std::vector<AdmissionTicket> held;
    for (int i = 0; i < 3; ++i) {
      held.push_back(AdmissionTicket::TryTake(&open, 3));
      EXPECT_TRUE(held.back().held());
    }
    EXPECT_EQ(open.load(), 3);
    AdmissionTicket refused = AdmissionTicket::TryTake(&open, 3);
    EXPECT_FALSE(refused.held());
    EXPECT_EQ(open.load(), 3);
    held.pop_back();
    EXPECT_EQ(open.load(), 2);
  }
  EXPECT_EQ(open.load(), 0);
}

TEST(AdmissionTicketTest, MovingCarriesThePlaceWithoutCountingItTwice) {
  std::atomic<int64_t> open{0};
  AdmissionTicket a = AdmissionTicket::TryTake(&open, 10);
  AdmissionTicket b = std::move(a);
  EXPECT_FALSE(a.held());  // NOLINT(bugprone-use-after-move): moved-from state is specified
  EXPECT_TRUE(b.held());
  EXPECT_EQ(open.load(), 1);
  AdmissionTicket c = AdmissionTicket::TryTake(&open, 10);
  EXPECT_EQ(open.load(), 2);
  c = std::move(b);  // c's own place is given back, b's carried over
  EXPECT_EQ(open.load(), 1);
  c = AdmissionTicket();
  EXPECT_EQ(open.load(), 0);
}

}  // namespace
}  // namespace server
