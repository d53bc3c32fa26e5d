#include "server/session/uring_transport.h"

#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/poller.h"
#include "common/uring_poller.h"
#include "gtest/gtest.h"

namespace server {
namespace {

constexpr uint64_t kToken = 42;
constexpr size_t kMaxUnsent = 32 * 1024;

// A UringTransport over one end of a socket pair, on a real ring; the test
// plays the peer on the other end.
class UringTransportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<common::Poller>> poller = common::NewUringPoller();
    ASSERT_TRUE(poller.ok()) << poller.status();
    poller_ = std::move(*poller);
    poller_->BindToThread();
    int sv[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
    peer_ = common::UniqueFd(sv[1]);
    transport_ = std::make_unique<UringTransport>(uring(), common::UniqueFd(sv[0]), kToken,
                                                  kMaxUnsent);
  }

  void TearDown() override {
    transport_.reset();
    poller_->SubmitPending();  // as the loop does when it stops
  }

  common::UringPoller* uring() { return static_cast<common::UringPoller*>(poller_.get()); }

  // Submits what is queued and waits (up to a second) for reports.
  std::vector<common::Poller::Event> Turn() {
    common::Poller::Event events[16];
    const int n = poller_->Wait(absl::Now() + absl::Seconds(1), absl::MakeSpan(events));
    return std::vector<common::Poller::Event>(events, events + n);
  }

  uint32_t ReadinessAfterTurn() {
    uint32_t readiness = 0;
    for (const common::Poller::Event& event : Turn()) {
      EXPECT_EQ(event.token, kToken);
      readiness |= event.readiness;
    }
    return readiness;
  }

  std::string PeerRead() {
    char buf[4096];
    const ssize_t n = ::recv(peer_.get(), buf, sizeof(buf), MSG_DONTWAIT);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
  }

  std::unique_ptr<common::Poller> poller_;
  common::UniqueFd peer_;
  std::unique_ptr<UringTransport> transport_;
};

TEST_F(UringTransportTest, ReadsWhatAReceiveDelivered) {
  char buf[64];
  EXPECT_EQ(transport_->Read(buf, sizeof(buf)).status, IoResult::Status::kWouldBlock);
  ASSERT_EQ(::send(peer_.get(), "hello\n", 6, 0), 6);
  EXPECT_NE(ReadinessAfterTurn() & common::kReadable, 0u);
  // Peek leaves the bytes for the read.
  IoResult peeked = transport_->Peek(buf, 3);
  ASSERT_TRUE(peeked.ok());
  EXPECT_EQ(std::string(buf, peeked.bytes), "hel");
  IoResult read = transport_->Read(buf, sizeof(buf));
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(std::string(buf, read.bytes), "hello\n");
  EXPECT_TRUE(read.drained);  // a new receive is queued: no read needed to say so
  EXPECT_EQ(transport_->Read(buf, sizeof(buf)).status, IoResult::Status::kWouldBlock);
  EXPECT_LT(transport_->heap_bytes(), 512u);  // idle: no buffer, only its own state
}

TEST_F(UringTransportTest, PartialReadsKeepTheRest) {
  char buf[64];
  transport_->Read(buf, sizeof(buf));
  ASSERT_EQ(::send(peer_.get(), "abcdef", 6, 0), 6);
  ReadinessAfterTurn();
  IoResult first = transport_->Read(buf, 4);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(std::string(buf, first.bytes), "abcd");
  EXPECT_FALSE(first.drained);
  IoResult second = transport_->Read(buf, sizeof(buf));
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(std::string(buf, second.bytes), "ef");
}

TEST_F(UringTransportTest, OneReceiveServesEveryArrival) {
  char buf[64];
  transport_->Read(buf, sizeof(buf));  // the multishot receive is queued
  for (const std::string line : {"one\n", "two\n", "three\n"}) {
    ASSERT_EQ(::send(peer_.get(), line.data(), line.size(), 0),
              static_cast<ssize_t>(line.size()));
    EXPECT_EQ(ReadinessAfterTurn(), common::kReadable);
    IoResult read = transport_->Read(buf, sizeof(buf));
    ASSERT_TRUE(read.ok());
    EXPECT_EQ(std::string(buf, read.bytes), line);
    EXPECT_TRUE(read.drained);
  }
}

// A session that does not read (its replies wait for the client) takes
// about UringPoller::kReceiveCap bytes (one buffer more at most); the rest
// stays in the socket until it has read them.
TEST_F(UringTransportTest, TakesAtMostTheReceiveCapUntilRead) {
  std::string sent;
  for (int i = 0; sent.size() < 64 * 1024; ++i) sent += absl::StrCat(i, "\n");
  char buf[64 * 1024];
  transport_->Read(buf, sizeof(buf));
  ASSERT_EQ(::send(peer_.get(), sent.data(), sent.size(), 0), static_cast<ssize_t>(sent.size()));
  for (int turn = 0; turn < 20; ++turn) {
    common::Poller::Event events[16];
    poller_->Wait(absl::Now() + absl::Milliseconds(5), absl::MakeSpan(events));
  }
  int in_socket = 0;
  ASSERT_EQ(::ioctl(transport_->fd(), FIONREAD, &in_socket), 0);
  EXPECT_GE(static_cast<size_t>(in_socket),
            sent.size() - common::UringPoller::kReceiveCap -
                common::UringPoller::kReceiveBufferBytes);
  // Reading drains what was taken and receives again; nothing is lost or
  // reordered.
  std::string received;
  for (int turn = 0; turn < 200 && received.size() < sent.size(); ++turn) {
    IoResult read;
    while ((read = transport_->Read(buf, sizeof(buf))).ok()) received.append(buf, read.bytes);
    if (received.size() < sent.size()) Turn();
  }
  EXPECT_EQ(received, sent);
}

TEST_F(UringTransportTest, EndOfStreamAfterTheData) {
  char buf[64];
  transport_->Read(buf, sizeof(buf));
  ASSERT_EQ(::send(peer_.get(), "x", 1, 0), 1);
  ASSERT_EQ(::shutdown(peer_.get(), SHUT_WR), 0);
  ReadinessAfterTurn();
  ASSERT_TRUE(transport_->Read(buf, sizeof(buf)).ok());
  IoResult eof;
  for (int i = 0; i < 3; ++i) {
    eof = transport_->Read(buf, sizeof(buf));
    if (eof.status != IoResult::Status::kWouldBlock) break;
    EXPECT_NE(ReadinessAfterTurn() & common::kHangup, 0u);
  }
  EXPECT_EQ(eof.status, IoResult::Status::kEof);
}

TEST_F(UringTransportTest, WritesAreUnsentUntilTheirCompletion) {
  IoResult written = transport_->Write("ok hi\n", 6);
  ASSERT_TRUE(written.ok());
  EXPECT_EQ(written.bytes, 6u);
  EXPECT_EQ(transport_->unsent(), 6u);  // queued, not submitted yet
  EXPECT_NE(ReadinessAfterTurn() & common::kWritable, 0u);
  EXPECT_EQ(transport_->unsent(), 0u);
  EXPECT_EQ(PeerRead(), "ok hi\n");
}

TEST_F(UringTransportTest, TakesAtMostItsBoundFromANonReadingPeer) {
  const std::string chunk(16 * 1024, 'x');
  size_t taken = 0;
  for (int turn = 0; turn < 64; ++turn) {
    IoResult w;
    while ((w = transport_->Write(chunk.data(), chunk.size())).ok()) taken += w.bytes;
    ASSERT_EQ(w.status, IoResult::Status::kWouldBlock);
    ASSERT_LE(transport_->unsent(), kMaxUnsent);
    common::Poller::Event events[16];
    poller_->Wait(absl::Now() + absl::Milliseconds(5), absl::MakeSpan(events));
  }
  // The socket pair's buffers filled, then the transport's own bound.
  EXPECT_EQ(transport_->unsent(), kMaxUnsent);
  EXPECT_GT(taken, kMaxUnsent);
  // Destroyed with a send stuck in the kernel: cancelled, nothing leaks
  // (ASan), nothing in the kernel points at freed memory.
}

TEST_F(UringTransportTest, AWriteToAGonePeerFails) {
  peer_.Reset();
  ASSERT_TRUE(transport_->Write("x\n", 2).ok());
  EXPECT_NE(ReadinessAfterTurn() & common::kHangup, 0u);
  EXPECT_EQ(transport_->unsent(), 0u);
  EXPECT_EQ(transport_->Write("y\n", 2).status, IoResult::Status::kError);
}

TEST_F(UringTransportTest, ReleasedSocketKeepsLaterInput) {
  char buf[64];
  transport_->Read(buf, sizeof(buf));  // a receive is in the kernel
  common::UniqueFd socket = transport_->ReleaseSocket();
  ASSERT_TRUE(socket.valid());
  Turn();  // the receive's cancellation completes
  ASSERT_EQ(::send(peer_.get(), "late", 4, 0), 4);
  const ssize_t n = ::recv(socket.get(), buf, sizeof(buf), MSG_DONTWAIT);
  ASSERT_EQ(n, 4);
  EXPECT_EQ(std::string(buf, 4), "late");
}

TEST_F(UringTransportTest, DestroyedWithAReceiveInTheKernel) {
  char buf[64];
  transport_->Read(buf, sizeof(buf));
  Turn();  // submitted
  transport_.reset();
  // The cancellation's completion arrives after the transport is gone and
  // frees what the request pointed to; input after that reaches nobody.
  ASSERT_EQ(::send(peer_.get(), "x", 1, 0), 1);
  common::Poller::Event events[16];
  EXPECT_EQ(poller_->Wait(absl::Now() + absl::Milliseconds(50), absl::MakeSpan(events)), 0);
}

}  // namespace
}  // namespace server
