#include "server/parking_lot.h"

#include <sys/epoll.h>
#include <sys/socket.h>

#include <memory>

#include "common/unique_fd.h"
#include "gtest/gtest.h"

namespace server {
namespace {

class ParkingLotTest : public ::testing::Test {
 protected:
  // A session over a socketpair; returns the client end.
  common::UniqueFd NewSession(uint64_t* id) {
    int sv[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
    *id = lot_.Add(std::make_unique<Session>(common::UniqueFd(sv[0]), &config_, &stats_, t0_));
    return common::UniqueFd(sv[1]);
  }
  // Ids epoll reports within `timeout_ms`.
  std::vector<uint64_t> Ready(int timeout_ms = 0) {
    epoll_event events[8];
    int n = ::epoll_wait(epoll_.get(), events, 8, timeout_ms);
    std::vector<uint64_t> ids;
    for (int i = 0; i < n; ++i) ids.push_back(events[i].data.u64);
    return ids;
  }

  common::UniqueFd epoll_{::epoll_create1(EPOLL_CLOEXEC)};
  ParkingLot lot_{epoll_.get()};
  SessionConfig config_;
  Stats stats_;
  const absl::Time t0_ = absl::FromUnixSeconds(1000);
};

TEST_F(ParkingLotTest, ParkedSessionIsReportedOnceWhenReadable) {
  uint64_t id;
  common::UniqueFd client = NewSession(&id);
  EXPECT_EQ(lot_.Claim(id), nullptr);  // running, not parked
  lot_.Park(id, {Session::Interest::kRead, absl::InfiniteFuture()});
  EXPECT_EQ(lot_.parked(), 1u);
  EXPECT_TRUE(Ready().empty());
  ASSERT_EQ(::send(client.get(), "x\n", 2, 0), 2);
  std::vector<uint64_t> ready = Ready(1000);
  ASSERT_EQ(ready, std::vector<uint64_t>{id});
  EXPECT_TRUE(Ready().empty());  // one-shot: no second report
  EXPECT_NE(lot_.Claim(id), nullptr);
  EXPECT_EQ(lot_.Claim(id), nullptr);  // exclusive
  EXPECT_EQ(lot_.parked(), 0u);
}

TEST_F(ParkingLotTest, DeadlinesAreClaimedInOrderAndOnlyOnce) {
  uint64_t a, b;
  common::UniqueFd ca = NewSession(&a);
  common::UniqueFd cb = NewSession(&b);
  lot_.Park(a, {Session::Interest::kRead, t0_ + absl::Seconds(2)});
  lot_.Park(b, {Session::Interest::kRead, t0_ + absl::Seconds(1)});
  EXPECT_EQ(lot_.NextDeadline(), t0_ + absl::Seconds(1));
  EXPECT_TRUE(lot_.ClaimExpired(t0_).empty());
  auto expired = lot_.ClaimExpired(t0_ + absl::Seconds(1));
  ASSERT_EQ(expired.size(), 1u);
  EXPECT_EQ(expired[0].first, b);
  EXPECT_EQ(lot_.Claim(b), nullptr);  // a late epoll report loses
  EXPECT_EQ(lot_.NextDeadline(), t0_ + absl::Seconds(2));
  EXPECT_EQ(lot_.ClaimAll().size(), 1u);
  EXPECT_EQ(lot_.NextDeadline(), absl::InfiniteFuture());
}

TEST_F(ParkingLotTest, RetiredIdIsNeverClaimedAgain) {
  uint64_t id;
  common::UniqueFd client = NewSession(&id);
  std::unique_ptr<Session> s = lot_.Retire(id);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(lot_.size(), 0u);
  EXPECT_EQ(lot_.Claim(id), nullptr);
  uint64_t next;
  common::UniqueFd other = NewSession(&next);
  EXPECT_NE(next, id);
}

}  // namespace
}  // namespace server
