#include "common/socket.h"

#include <poll.h>
#include <sys/socket.h>

#include <string>

#include "gtest/gtest.h"

namespace common {
namespace {

TEST(SocketTest, ListenOnAnyPortAndConnect) {
  auto listener = Listen("127.0.0.1", 0, 16);
  ASSERT_TRUE(listener.ok()) << listener.status();
  auto port = BoundPort(*listener);
  ASSERT_TRUE(port.ok());
  EXPECT_GT(*port, 0);
  auto client = Connect("127.0.0.1", *port, absl::Seconds(5));
  ASSERT_TRUE(client.ok()) << client.status();
  ASSERT_TRUE(WaitFor(*listener, POLLIN, absl::Now() + absl::Seconds(5)).ok());
  UniqueFd server(::accept4(listener->get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
  ASSERT_TRUE(server.valid());
  EXPECT_NE(PeerName(server), "?");

  ASSERT_TRUE(SendAll(*client, "ping\n", absl::Now() + absl::Seconds(5)).ok());
  char buf[16];
  auto n = RecvSome(server, buf, sizeof(buf), absl::Now() + absl::Seconds(5));
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(std::string(buf, *n), "ping\n");
}

TEST(SocketTest, Ipv6LoopbackWorks) {
  auto listener = Listen("::1", 0, 16);
  if (!listener.ok()) GTEST_SKIP() << "no IPv6 here: " << listener.status();
  auto port = BoundPort(*listener);
  ASSERT_TRUE(port.ok());
  auto client = Connect("::1", *port, absl::Seconds(5));
  EXPECT_TRUE(client.ok()) << client.status();
}

TEST(SocketTest, PortInUseIsAClearError) {
  auto first = Listen("127.0.0.1", 0, 16);
  ASSERT_TRUE(first.ok());
  auto second = Listen("127.0.0.1", *BoundPort(*first), 16);
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.status().message().find("Address already in use"), std::string::npos)
      << second.status();
}

TEST(SocketTest, UnresolvableHostIsInvalidArgument) {
  auto l = Listen("no-such-host.invalid", 0, 16);
  EXPECT_EQ(l.status().code(), absl::StatusCode::kInvalidArgument) << l.status();
}

TEST(SocketTest, RecvTimesOutAndSeesEof) {
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
  UniqueFd a(sv[0]), b(sv[1]);
  char buf[8];
  auto n = RecvSome(a, buf, sizeof(buf), absl::Now() + absl::Milliseconds(20));
  EXPECT_EQ(n.status().code(), absl::StatusCode::kDeadlineExceeded);
  b.Reset();
  n = RecvSome(a, buf, sizeof(buf), absl::Now() + absl::Seconds(5));
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 0u);
  EXPECT_TRUE(DiscardPendingInput(a));
}

TEST(SocketTest, SendToClosedPeerIsAnErrorNotSigpipe) {
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
  UniqueFd a(sv[0]), b(sv[1]);
  b.Reset();
  absl::Status s = SendAll(a, "x", absl::Now() + absl::Seconds(1));
  EXPECT_FALSE(s.ok());
}

}  // namespace
}  // namespace common
