#include "server/server.h"

#include <poll.h>

#include <string>
#include <vector>

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
  return common::RecvLine(fd, absl::Now() + absl::Seconds(10));
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
  o.model = Model::kClassic;  // one worker, one session: the second client queues
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

TEST(ServerTest, EveryClientIsWelcomedAtOnceInTheEventModel) {
  ServerOptions o = TestOptions();
  o.workers = 1;
  Server server(o);
  ASSERT_TRUE(server.Start().ok());
  std::vector<common::UniqueFd> clients;
  for (int i = 0; i < 20; ++i) clients.push_back(ConnectTo(server));
  for (auto& c : clients) EXPECT_EQ(ReadLine(c), "welcome to server.\r\n");
  for (auto& c : clients) {
    ASSERT_TRUE(common::SendAll(c, "x\n", absl::Now() + absl::Seconds(5)).ok());
    EXPECT_EQ(ReadLine(c), "ok ...x\n");
  }
  EXPECT_EQ(server.stats().active_sessions, 20);
  EXPECT_EQ(server.stats().open_connections, 20);
  server.Shutdown();
  EXPECT_EQ(server.stats().shutdown_goodbyes, 20);
}

TEST(ServerTest, ClientsBeyondMaxConnectionsAreToldBusy) {
  ServerOptions o = TestOptions();
  o.max_connections = 3;
  Server server(o);
  ASSERT_TRUE(server.Start().ok());
  std::vector<common::UniqueFd> clients;
  for (int i = 0; i < 3; ++i) {
    clients.push_back(ConnectTo(server));
    EXPECT_EQ(ReadLine(clients.back()), "welcome to server.\r\n");
  }
  common::UniqueFd extra = ConnectTo(server);
  EXPECT_EQ(ReadLine(extra), common::kBusyLine);
  EXPECT_EQ(server.stats().rejected[static_cast<int>(RejectReason::kMaxConnections)], 1);
  // A slot frees when a client leaves.
  clients[0].Reset();
  std::string line;
  for (int i = 0; i < 100 && line != "welcome to server.\r\n"; ++i) {
    common::UniqueFd again = ConnectTo(server);
    line = ReadLine(again);
    if (line != "welcome to server.\r\n") absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_EQ(line, "welcome to server.\r\n");
  server.Shutdown();
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
