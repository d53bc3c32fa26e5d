#include "server/session.h"

#include <poll.h>
#include <sys/socket.h>

#include <string>
#include <vector>

#include "common/protocol.h"
#include "common/socket.h"
#include "gtest/gtest.h"

namespace server {
namespace {

using Interest = Session::Interest;

// A session on one end of a socketpair; the test plays the client on the
// other. Time is passed in explicitly, so timeouts need no sleeping.
class SessionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config_.welcome_line = "welcome to server.\r\n";
    config_.reply_prefix = "ok ...";
    config_.max_line_bytes = 16;
    config_.idle_timeout = absl::Seconds(10);
    config_.write_timeout = absl::Seconds(5);
  }

  void Start() {
    int sv[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
    client_ = common::UniqueFd(sv[1]);
    session_ = std::make_unique<Session>(common::UniqueFd(sv[0]), &config_, &stats_, t0_);
  }

  Session::Wait Resume(absl::Time now) {
    return session_->Resume(now, absl::Span<char>(scratch_.data(), scratch_.size()));
  }

  // Like a driver: resumes again while the socket still has input ready.
  Session::Wait Drive(absl::Time now) {
    for (;;) {
      Session::Wait w = Resume(now);
      pollfd p{session_->fd(), POLLIN, 0};
      if (w.interest != Interest::kRead || ::poll(&p, 1, 0) != 1) return w;
    }
  }

  void Send(absl::string_view bytes) {
    ASSERT_TRUE(common::SendAll(client_, bytes, absl::Now() + absl::Seconds(5)).ok());
  }

  // Everything the server has sent so far.
  std::string Received() {
    std::string out;
    char buf[4096];
    for (;;) {
      ssize_t n = ::recv(client_.get(), buf, sizeof(buf), MSG_DONTWAIT);
      if (n <= 0) break;
      out.append(buf, static_cast<size_t>(n));
    }
    return out;
  }

  SessionConfig config_;
  Stats stats_;
  const absl::Time t0_ = absl::FromUnixSeconds(1000000);
  std::vector<char> scratch_ = std::vector<char>(4096);
  common::UniqueFd client_;
  std::unique_ptr<Session> session_;
};

TEST_F(SessionTest, SendsWelcomeThenWaitsForInput) {
  Start();
  Session::Wait w = Resume(t0_);
  EXPECT_EQ(w.interest, Interest::kRead);
  EXPECT_EQ(w.deadline, t0_ + absl::Seconds(10));
  EXPECT_EQ(Received(), "welcome to server.\r\n");
  EXPECT_TRUE(session_->idle());
}

TEST_F(SessionTest, EchoesLinesWithPrefixVerbatim) {
  Start();
  Resume(t0_);
  Received();
  Send("hello\r\n\n");
  EXPECT_EQ(Resume(t0_).interest, Interest::kRead);
  EXPECT_EQ(Received(), "ok ...hello\r\nok ...\n");
}

TEST_F(SessionTest, BinaryBytesPassThrough) {
  Start();
  Resume(t0_);
  Received();
  const std::string line("a\0b\xff\r\x01\n", 7);
  Send(line);
  Resume(t0_);
  EXPECT_EQ(Received(), "ok ..." + line);
  EXPECT_EQ(stats_.lines_echoed.load(), 1);
  EXPECT_EQ(stats_.bytes_echoed.load(), 7);
}

TEST_F(SessionTest, LineSplitAcrossReads) {
  Start();
  Resume(t0_);
  Received();
  Send("hel");
  Resume(t0_);
  EXPECT_EQ(Received(), "");
  EXPECT_FALSE(session_->idle());  // holds a partial line
  Send("lo\n");
  Resume(t0_);
  EXPECT_EQ(Received(), "ok ...hello\n");
}

TEST_F(SessionTest, CustomWelcomeAndPrefix) {
  config_.welcome_line = "hi\r\n";
  config_.reply_prefix = "> ";
  Start();
  Resume(t0_);
  Send("x\n");
  Resume(t0_);
  EXPECT_EQ(Received(), "hi\r\n> x\n");
}

TEST_F(SessionTest, LongLineGetsErrorAndGracefulClose) {
  Start();
  Resume(t0_);
  Received();
  Send("ok\n01234567890123456789");  // second line exceeds 16 bytes
  EXPECT_EQ(Resume(t0_).interest, Interest::kDone);
  EXPECT_EQ(Received(), "ok ...ok\nerror: line too long\r\n");
  EXPECT_TRUE(session_->wants_graceful_close());
  EXPECT_EQ(stats_.errors.load(), 1);
}

TEST_F(SessionTest, IdleTimeoutSaysByeAndCloses) {
  Start();
  Session::Wait w = Resume(t0_);
  Received();
  EXPECT_EQ(Resume(w.deadline - absl::Milliseconds(1)).interest, Interest::kRead);
  EXPECT_EQ(Resume(w.deadline).interest, Interest::kDone);
  EXPECT_EQ(Received(), common::kIdleTimeoutLine);
  EXPECT_TRUE(session_->wants_graceful_close());
  EXPECT_EQ(stats_.idle_timeouts.load(), 1);
}

TEST_F(SessionTest, CompleteLineExtendsIdleDeadline) {
  Start();
  Resume(t0_);
  Send("a\n");
  Session::Wait w = Resume(t0_ + absl::Seconds(9));
  EXPECT_EQ(w.deadline, t0_ + absl::Seconds(19));
}

TEST_F(SessionTest, TricklingBytesDoesNotExtendIdleDeadline) {
  Start();
  Resume(t0_);
  Send("a");
  Session::Wait w = Resume(t0_ + absl::Seconds(9));
  EXPECT_EQ(w.deadline, t0_ + absl::Seconds(10));  // slowloris gains nothing
  EXPECT_EQ(Resume(t0_ + absl::Seconds(10)).interest, Interest::kDone);
}

TEST_F(SessionTest, EofDiscardsPartialLineAndClosesPlainly) {
  Start();
  Resume(t0_);
  Received();
  Send("done\nunfinished");
  ::shutdown(client_.get(), SHUT_WR);
  EXPECT_EQ(Drive(t0_).interest, Interest::kDone);
  EXPECT_EQ(Received(), "ok ...done\n");
  EXPECT_FALSE(session_->wants_graceful_close());
}

TEST_F(SessionTest, ShutdownAnswersReceivedLinesThenSaysBye) {
  Start();
  Resume(t0_);
  Received();
  Send("a\nb\n");  // arrived, not yet read by the session
  session_->BeginShutdown(t0_ + absl::Seconds(5),
                          absl::Span<char>(scratch_.data(), scratch_.size()));
  EXPECT_TRUE(session_->shutting_down());
  EXPECT_EQ(Resume(t0_).interest, Interest::kDone);
  EXPECT_EQ(Received(), "ok ...a\nok ...b\nbye: server shutting down\r\n");
  EXPECT_TRUE(session_->wants_graceful_close());
  EXPECT_EQ(stats_.shutdown_goodbyes.load(), 1);
}

TEST_F(SessionTest, RawFramingIsPlainEcho) {
  config_.framing = Framing::kRaw;
  config_.welcome_line.clear();
  Start();
  Resume(t0_);
  EXPECT_EQ(Received(), "");
  Send("no newline needed");
  Resume(t0_);
  EXPECT_EQ(Received(), "no newline needed");
}

TEST_F(SessionTest, ClientThatNeverReadsHitsWriteTimeout) {
  config_.max_line_bytes = 4096;
  Start();
  Resume(t0_);
  // Flood lines without reading any reply until the session's output blocks.
  const std::string lines(2048, '\n');
  Session::Wait w{Interest::kRead, t0_};
  for (int i = 0; i < 10000 && w.interest != Interest::kWrite; ++i) {
    ssize_t n = ::send(client_.get(), lines.data(), lines.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    (void)n;
    w = Resume(t0_);
  }
  ASSERT_EQ(w.interest, Interest::kWrite);
  EXPECT_EQ(w.deadline, t0_ + absl::Seconds(5));
  // Back-pressure: while replies are stuck, input is not read.
  EXPECT_EQ(Resume(t0_ + absl::Seconds(1)).interest, Interest::kWrite);
  EXPECT_EQ(Resume(t0_ + absl::Seconds(5)).interest, Interest::kDone);
  EXPECT_FALSE(session_->wants_graceful_close());
  EXPECT_EQ(stats_.errors.load(), 1);
}

}  // namespace
}  // namespace server
