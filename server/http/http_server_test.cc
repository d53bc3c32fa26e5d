// HttpServer's limits that the real server's fixed options make slow to reach
// from an integration test (tests/metrics_port_test.cc covers the rest): the
// connection cap evicting the oldest idle connection, and the write timeout
// for a client that stops reading.

#include "server/http/http_server.h"

#include <poll.h>
#include <sys/socket.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "common/socket.h"
#include "gtest/gtest.h"

namespace server {
namespace {

std::unique_ptr<HttpServer> StartOrDie(HttpServer::Options options) {
  options.routes["/healthz"] = [] {
    HttpResponse response;
    response.body = "ok\n";
    return response;
  };
  options.routes["/big"] = [] {
    HttpResponse response;
    response.body = std::string(16 << 20, 'x');  // more than loopback buffers hold
    return response;
  };
  absl::StatusOr<std::unique_ptr<HttpServer>> server = HttpServer::Start(std::move(options));
  EXPECT_TRUE(server.ok()) << server.status();
  return server.ok() ? std::move(*server) : nullptr;
}

common::UniqueFd ConnectOrDie(int port) {
  absl::StatusOr<common::UniqueFd> socket = common::Connect("127.0.0.1", port, absl::Seconds(10));
  EXPECT_TRUE(socket.ok()) << socket.status();
  return socket.ok() ? std::move(*socket) : common::UniqueFd();
}

// Whether the server closed or reset `socket` within `timeout`.
bool ClosedWithin(const common::UniqueFd& socket, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    pollfd p{socket.get(), POLLRDHUP, 50};
    if (::poll(&p, 1, 50) == 1 && (p.revents & (POLLHUP | POLLERR | POLLRDHUP)) != 0) {
      return true;
    }
  }
  return false;
}

std::string Get(int port, const std::string& path) {
  common::UniqueFd socket = ConnectOrDie(port);
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  EXPECT_TRUE(common::SendAll(socket, "GET " + path + " HTTP/1.0\r\n\r\n", deadline).ok());
  std::string raw;
  char buffer[4096];
  for (;;) {
    absl::StatusOr<size_t> n = common::RecvSome(socket, buffer, sizeof(buffer), deadline);
    if (!n.ok() || *n == 0) break;
    raw.append(buffer, *n);
  }
  return raw;
}

TEST(HttpServerTest, ConnectionCapClosesTheOldestIdleConnection) {
  HttpServer::Options options;
  options.max_connections = 4;
  std::unique_ptr<HttpServer> server = StartOrDie(std::move(options));
  ASSERT_NE(server, nullptr);
  std::vector<common::UniqueFd> idle;
  for (int i = 0; i < 4; ++i) {
    idle.push_back(ConnectOrDie(server->port()));
    // One at a time, so the server accepts them in this order.
    absl::SleepFor(absl::Milliseconds(20));
  }
  // A fifth connection (a probe) is answered, not refused...
  EXPECT_TRUE(absl::StartsWith(Get(server->port(), "/healthz"), "HTTP/1.1 200 OK\r\n"));
  // ...at the expense of the oldest idle one; the others stay.
  EXPECT_TRUE(ClosedWithin(idle[0], absl::Seconds(5)));
  for (int i = 1; i < 4; ++i) EXPECT_FALSE(ClosedWithin(idle[i], absl::Milliseconds(100))) << i;
}

TEST(HttpServerTest, ClientThatStopsReadingIsResetAfterTheWriteTimeout) {
  HttpServer::Options options;
  options.write_timeout = absl::Milliseconds(500);
  std::unique_ptr<HttpServer> server = StartOrDie(std::move(options));
  ASSERT_NE(server, nullptr);
  common::UniqueFd reader = ConnectOrDie(server->port());
  ASSERT_TRUE(common::SendAll(reader, "GET /big HTTP/1.1\r\n\r\nGET /big HTTP/1.1\r\n\r\n",
                              absl::Now() + absl::Seconds(5))
                  .ok());
  // Never reads: 16 MiB cannot drain into the kernel, so the server gives up.
  EXPECT_TRUE(ClosedWithin(reader, absl::Seconds(10)));
  EXPECT_TRUE(absl::StartsWith(Get(server->port(), "/healthz"), "HTTP/1.1 200 OK\r\n"));
}

TEST(HttpServerTest, PortInUseIsUnavailable) {
  absl::StatusOr<common::UniqueFd> taken = common::Listen("127.0.0.1", 0, 16);
  ASSERT_TRUE(taken.ok());
  HttpServer::Options options;
  options.port = *common::BoundPort(*taken);
  absl::StatusOr<std::unique_ptr<HttpServer>> server = HttpServer::Start(std::move(options));
  EXPECT_EQ(server.status().code(), absl::StatusCode::kUnavailable) << server.status();
}

}  // namespace
}  // namespace server
