// Every way a connection can end gives its place in --max_connections back:
// the AdmissionTicket (server/admission_ticket.h) that travels with it is the
// only thing that lowers Stats::open_connections, so each case below ends
// with the count at zero, in both models. (Registration failure, hand-over
// between workers and a connection taken back from the queue at shutdown
// are driven inside the event pool: server/event/event_pool_test.cc.)

#include <sys/socket.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/protocol.h"
#include "common/socket.h"
#include "gtest/gtest.h"
#include "server/server.h"

namespace server {
namespace {

constexpr char kWelcome[] = "welcome to server.\r\n";

class ConnectionCountTest : public ::testing::TestWithParam<Model> {
 protected:
  ServerOptions Options() const {
    ServerOptions o;
    o.port = 0;
    o.model = GetParam();
    o.workers = 2;
    o.stats_interval_ms = 0;
    o.shutdown_grace_ms = 2000;
    return o;
  }

  common::UniqueFd ConnectTo(const Server& server) {
    auto fd = common::Connect("127.0.0.1", server.port(), absl::Seconds(5));
    EXPECT_TRUE(fd.ok()) << fd.status();
    return fd.ok() ? std::move(*fd) : common::UniqueFd();
  }

  static std::string ReadLine(const common::UniqueFd& fd) {
    return common::RecvLine(fd, absl::Now() + absl::Seconds(10));
  }

  // Reads until the server closes; true if it did within 10 s.
  static bool ServerCloses(const common::UniqueFd& fd) {
    char buffer[4096];
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    for (;;) {
      absl::StatusOr<size_t> n = common::RecvSome(fd, buffer, sizeof(buffer), deadline);
      if (!n.ok()) return !absl::IsDeadlineExceeded(n.status());  // a reset is a close too
      if (*n == 0) return true;
    }
  }

  // The count reaches zero once the server has finished with every client
  // (closing is asynchronous to the client seeing EOF, hence the wait; the
  // 10 s only guards against a hang).
  static int64_t CountOnceSettled(const Server& server) {
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (server.stats().open_connections != 0 && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(5));
    }
    return server.stats().open_connections;
  }
};

TEST_P(ConnectionCountTest, Served) {
  Server server(Options());
  ASSERT_TRUE(server.Start().ok());
  for (int i = 0; i < 5; ++i) {
    common::UniqueFd c = ConnectTo(server);
    EXPECT_EQ(ReadLine(c), kWelcome);
    ASSERT_TRUE(common::SendAll(c, "hi\n", absl::Now() + absl::Seconds(5)).ok());
    EXPECT_EQ(ReadLine(c), "ok ...hi\n");
  }
  EXPECT_EQ(CountOnceSettled(server), 0);
  server.Shutdown();
  EXPECT_EQ(server.stats().open_connections, 0);
}

TEST_P(ConnectionCountTest, BusyOverMaxConnections) {
  ServerOptions o = Options();
  o.max_connections = 2;
  Server server(o);
  ASSERT_TRUE(server.Start().ok());
  std::vector<common::UniqueFd> held;
  for (int i = 0; i < 2; ++i) {
    held.push_back(ConnectTo(server));
    ASSERT_EQ(ReadLine(held.back()), kWelcome);
  }
  for (int i = 0; i < 3; ++i) {
    common::UniqueFd extra = ConnectTo(server);
    EXPECT_EQ(ReadLine(extra), common::kBusyLine);
  }
  EXPECT_EQ(server.stats().open_connections, 2);
  held.clear();
  EXPECT_EQ(CountOnceSettled(server), 0);
  server.Shutdown();
}

TEST_P(ConnectionCountTest, ResetByTheClient) {
  Server server(Options());
  ASSERT_TRUE(server.Start().ok());
  for (int i = 0; i < 5; ++i) {
    common::UniqueFd c = ConnectTo(server);
    ASSERT_EQ(ReadLine(c), kWelcome);
    ASSERT_TRUE(common::SendAll(c, "half a li", absl::Now() + absl::Seconds(5)).ok());
    const linger reset{1, 0};  // close() sends RST
    ASSERT_EQ(::setsockopt(c.get(), SOL_SOCKET, SO_LINGER, &reset, sizeof(reset)), 0);
  }
  EXPECT_EQ(CountOnceSettled(server), 0);
  server.Shutdown();
}

TEST_P(ConnectionCountTest, ProxyHeaderMissingMalformedLateOrHealthCheck) {
  ServerOptions o = Options();
  o.proxy_protocol = common::ProxyVersions::kAny;
  o.proxy_header_timeout_ms = 200;
  Server server(o);
  ASSERT_TRUE(server.Start().ok());
  // Missing: a plain line where the header belongs.
  common::UniqueFd missing = ConnectTo(server);
  ASSERT_TRUE(common::SendAll(missing, "hello\n", absl::Now() + absl::Seconds(5)).ok());
  // Malformed: a v1 header with garbage addresses.
  common::UniqueFd malformed = ConnectTo(server);
  ASSERT_TRUE(
      common::SendAll(malformed, "PROXY TCP4 x y 1 2\r\n", absl::Now() + absl::Seconds(5)).ok());
  // Late: nothing within the header timeout.
  common::UniqueFd late = ConnectTo(server);
  // A load balancer's health check: v2 LOCAL, reads the welcome, closes.
  common::UniqueFd check = ConnectTo(server);
  const std::string local("\r\n\r\n\0\r\nQUIT\n\x20\x00\x00\x00", 16);
  ASSERT_TRUE(common::SendAll(check, local, absl::Now() + absl::Seconds(5)).ok());
  EXPECT_EQ(ReadLine(check), kWelcome);
  check.Reset();
  EXPECT_TRUE(ServerCloses(missing));
  EXPECT_TRUE(ServerCloses(malformed));
  EXPECT_TRUE(ServerCloses(late));
  EXPECT_EQ(CountOnceSettled(server), 0);
  server.Shutdown();
  EXPECT_EQ(server.stats().health_checks, 1);
}

TEST_P(ConnectionCountTest, ShutdownWithClientsRunningAndQueued) {
  ServerOptions o = Options();
  o.workers = 1;
  o.queue_capacity = 4;
  Server server(o);
  ASSERT_TRUE(server.Start().ok());
  std::vector<common::UniqueFd> clients;
  clients.push_back(ConnectTo(server));
  ASSERT_EQ(ReadLine(clients.back()), kWelcome);
  // In the classic model the one worker is busy: these wait in the queue.
  for (int i = 0; i < 3; ++i) clients.push_back(ConnectTo(server));
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (server.stats().open_connections < 4 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(2));
  }
  ASSERT_EQ(server.stats().open_connections, 4);
  server.Shutdown();
  EXPECT_EQ(server.stats().open_connections, 0);
  for (auto& c : clients) EXPECT_TRUE(ServerCloses(c));
}

INSTANTIATE_TEST_SUITE_P(Models, ConnectionCountTest,
                         ::testing::Values(Model::kEvent, Model::kClassic),
                         [](const ::testing::TestParamInfo<Model>& info) {
                           return std::string(ModelName(info.param));
                         });

}  // namespace
}  // namespace server
