#include "server/lingering_closer.h"

#include <sys/socket.h>

#include <string>

#include "common/socket.h"
#include "gtest/gtest.h"

namespace server {
namespace {

struct Pair {
  common::UniqueFd server, client;
};

Pair MakePair() {
  int sv[2];
  EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
  return {common::UniqueFd(sv[0]), common::UniqueFd(sv[1])};
}

std::string ReadToEof(const common::UniqueFd& fd) {
  std::string out;
  char buf[256];
  for (;;) {
    auto n = common::RecvSome(fd, buf, sizeof(buf), absl::Now() + absl::Seconds(10));
    if (!n.ok() || *n == 0) return out;
    out.append(buf, *n);
  }
}

TEST(LingeringCloserTest, LastLineArrivesDespiteUnreadInput) {
  LingeringCloser closer(absl::Seconds(10), 16);
  ASSERT_TRUE(closer.Start().ok());
  Pair p = MakePair();
  // The client sent data the server never read, then the server says bye.
  ASSERT_TRUE(common::SendAll(p.client, "unread\n", absl::Now() + absl::Seconds(1)).ok());
  closer.Close(std::move(p.server), "bye\r\n");
  EXPECT_EQ(ReadToEof(p.client), "bye\r\n");  // FIN after the line, no reset
  closer.Stop(absl::Now() + absl::Seconds(1));
}

TEST(LingeringCloserTest, CloseNowSendsTheLineThenCloses) {
  Pair p = MakePair();
  LingeringCloser::CloseNow(std::move(p.server), "busy\r\n");
  EXPECT_EQ(ReadToEof(p.client), "busy\r\n");
}

TEST(LingeringCloserTest, WaitsForClientToHangUpThenCloses) {
  LingeringCloser closer(absl::Seconds(30), 16);
  ASSERT_TRUE(closer.Start().ok());
  Pair p = MakePair();
  closer.Close(std::move(p.server));
  EXPECT_EQ(closer.lingering(), 1u);
  ASSERT_TRUE(common::SendAll(p.client, "more input", absl::Now() + absl::Seconds(1)).ok());
  p.client.Reset();  // client hangs up
  for (int i = 0; i < 1000 && closer.lingering() > 0; ++i) absl::SleepFor(absl::Milliseconds(5));
  EXPECT_EQ(closer.lingering(), 0u);
  closer.Stop(absl::Now());
}

TEST(LingeringCloserTest, StopClosesWhatStillLingers) {
  LingeringCloser closer(absl::Seconds(30), 16);
  ASSERT_TRUE(closer.Start().ok());
  Pair p = MakePair();
  closer.Close(std::move(p.server));
  closer.Stop(absl::Now());
  EXPECT_EQ(closer.lingering(), 0u);
  EXPECT_EQ(ReadToEof(p.client), "");  // the server side is gone
}

TEST(LingeringCloserTest, OverCapacityClosesAtOnce) {
  LingeringCloser closer(absl::Seconds(30), 1);
  ASSERT_TRUE(closer.Start().ok());
  Pair a = MakePair();
  Pair b = MakePair();
  closer.Close(std::move(a.server));
  closer.Close(std::move(b.server));
  EXPECT_EQ(closer.lingering(), 1u);
  EXPECT_EQ(ReadToEof(b.client), "");
  closer.Stop(absl::Now());
}

}  // namespace
}  // namespace server
