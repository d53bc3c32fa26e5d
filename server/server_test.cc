#include "server/server.h"

#include <poll.h>

#include <string>

#include "common/protocol.h"
#include "common/socket.h"
#include "gtest/gtest.h"

namespace server {
namespace {

ServerOptions TestOptions() {
  ServerOptions o;
  o.port = 0;
  o.stats_interval_ms = 0;
  o.shutdown_grace_ms = 2000;
  return o;
}

std::string ReadLine(const common::UniqueFd& fd) {
  std::string line;
  char c;
  while (line.empty() || line.back() != '\n') {
    auto n = common::RecvSome(fd, &c, 1, absl::Now() + absl::Seconds(10));
    if (!n.ok() || *n == 0) break;
    line.push_back(c);
  }
  return line;
}

common::UniqueFd ConnectTo(const Server& server) {
  auto fd = common::Connect("127.0.0.1", server.port(), absl::Seconds(5));
  EXPECT_TRUE(fd.ok()) << fd.status();
  return fd.ok() ? std::move(*fd) : common::UniqueFd();
}

TEST(ServerTest, ServesAndStopsCleanly) {
  Server server(TestOptions());
  ASSERT_TRUE(server.Start().ok());
  ASSERT_GT(server.port(), 0);
  common::UniqueFd c = ConnectTo(server);
  EXPECT_EQ(ReadLine(c), "welcome to server.\r\n");
  ASSERT_TRUE(common::SendAll(c, "ping\n", absl::Now() + absl::Seconds(5)).ok());
  EXPECT_EQ(ReadLine(c), "ok ...ping\n");
  c.Reset();
  server.Shutdown();
  StatsSnapshot s = server.stats();
  EXPECT_EQ(s.accepted, 1);
  EXPECT_EQ(s.lines_echoed, 1);
  EXPECT_EQ(s.bytes_echoed, 5);
  EXPECT_EQ(s.active_sessions, 0);
  server.Shutdown();  // idempotent
}

TEST(ServerTest, ShutdownSaysByeToRunningAndQueuedClients) {
  ServerOptions o = TestOptions();
  o.workers = 1;
  o.queue_capacity = 2;
  Server server(o);
  ASSERT_TRUE(server.Start().ok());
  common::UniqueFd running = ConnectTo(server);
  EXPECT_EQ(ReadLine(running), "welcome to server.\r\n");
  common::UniqueFd queued = ConnectTo(server);
  // Wait until the acceptor has queued it.
  for (int i = 0; i < 1000 && server.stats().queued_now == 0; ++i) {
    absl::SleepFor(absl::Milliseconds(2));
  }
  ASSERT_EQ(server.stats().queued_now, 1);
  server.Shutdown();
  EXPECT_EQ(ReadLine(running), common::kShutdownLine);
  EXPECT_EQ(ReadLine(queued), common::kShutdownLine);  // never welcomed
  EXPECT_EQ(server.stats().shutdown_goodbyes, 2);
  // The listener is closed: new clients are refused.
  auto late = common::Connect("127.0.0.1", server.port(), absl::Seconds(1));
  EXPECT_FALSE(late.ok());
}

TEST(ServerTest, StartFailureLeavesNothingRunning) {
  ServerOptions o = TestOptions();
  o.port_file = "/nonexistent-dir/port";
  Server server(o);
  absl::Status s = server.Start();
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("--port_file"), absl::string_view::npos) << s;
}

}  // namespace
}  // namespace server
