#include "server/session/session.h"

#include <poll.h>
#include <sys/socket.h>

#include <string>
#include <vector>

#include "common/protocol.h"
#include "common/socket.h"
#include "gtest/gtest.h"
#include "server/session/memory_transport.h"
#include "server/session/socket_transport.h"

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
    context_ = std::make_unique<WorkerContext>(config_, &counters_);
    session_ = std::make_unique<Session>(
        std::make_unique<SocketTransport>(common::UniqueFd(sv[0])), AdmissionTicket(), &config_,
        &stats_, t0_);
  }

  Session::Wait Resume(absl::Time now) { return session_->Resume(now, *context_); }

  // Whether the session's socket has input it has not read. (On TCP a short
  // read proves the socket drained, so the server skips the recv() that
  // would say so; on these socketpairs it does not, hence this check.)
  bool InputWaiting() {
    pollfd p{session_->fd(), POLLIN, 0};
    return ::poll(&p, 1, 0) == 1;
  }

  // Like a driver: resumes again while the socket still has input ready.
  Session::Wait Drive(absl::Time now) {
    for (;;) {
      Session::Wait w = Resume(now);
      if (w.interest != Interest::kRead || !InputWaiting()) return w;
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

  int64_t Errors(ErrorKind kind) const {
    return stats_.Snapshot({}).errors[static_cast<int>(kind)];
  }

  SessionConfig config_;
  Stats stats_;
  WorkerCounters counters_;
  std::unique_ptr<WorkerContext> context_;
  const absl::Time t0_ = absl::FromUnixSeconds(1000000);
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
  EXPECT_EQ(counters_.lines.load(), 1);
  EXPECT_EQ(counters_.bytes.load(), 7);
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
  EXPECT_EQ(Errors(ErrorKind::kLineTooLong), 1);
}

TEST_F(SessionTest, LimitCountsALineWithoutItsCrLf) {
  Start();
  Resume(t0_);
  Received();
  const std::string sixteen(16, 'x');  // exactly max_line_bytes
  Send(sixteen + "\r\n");
  EXPECT_EQ(Resume(t0_).interest, Interest::kRead);
  EXPECT_EQ(Received(), "ok ..." + sixteen + "\r\n");
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

TEST_F(SessionTest, HangupQueuedBehindTheLastLineEndsTheSession) {
  Start();
  Resume(t0_);
  Received();
  Send("last\n");
  ::shutdown(client_.get(), SHUT_WR);  // the FIN right behind the data
  session_->NoteShortReadsUnproven();  // what the driver's readiness report said
  EXPECT_EQ(Resume(t0_).interest, Interest::kDone);
  EXPECT_EQ(Received(), "ok ...last\n");
}

TEST_F(SessionTest, ShutdownAnswersReceivedLinesThenSaysBye) {
  Start();
  Resume(t0_);
  Received();
  Send("a\nb\n");  // arrived, not yet read by the session
  session_->BeginShutdown(t0_ + absl::Seconds(5));
  EXPECT_TRUE(session_->shutting_down());
  EXPECT_EQ(Resume(t0_).interest, Interest::kDone);
  EXPECT_EQ(Received(), "ok ...a\nok ...b\nbye: server shutting down\r\n");
  EXPECT_TRUE(session_->wants_graceful_close());
  EXPECT_EQ(stats_.shutdown_goodbyes.load(), 1);
}

TEST_F(SessionTest, RawFramingIsPlainEcho) {
  config_.framing = common::Framing::kRaw;
  config_.welcome_line.clear();
  Start();
  Resume(t0_);
  EXPECT_EQ(Received(), "");
  Send("no newline needed");
  Resume(t0_);
  EXPECT_EQ(Received(), "no newline needed");
}

TEST_F(SessionTest, RawFramingShutdownClosesWithoutAByeOrACount) {
  config_.framing = common::Framing::kRaw;
  config_.welcome_line.clear();
  Start();
  Resume(t0_);
  session_->BeginShutdown(t0_ + absl::Seconds(5));
  EXPECT_EQ(Resume(t0_).interest, Interest::kDone);
  EXPECT_EQ(Received(), "");
  EXPECT_EQ(stats_.shutdown_goodbyes.load(), 0);  // no line was sent
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
  EXPECT_EQ(Errors(ErrorKind::kWriteTimeout), 1);
}

// The tests below are the hostile-client bounds (see session.h).
class SessionBoundsTest : public SessionTest {
 protected:
  void SetUp() override {
    SessionTest::SetUp();
    config_.max_output_bytes = 1024;
  }

  // Sends empty lines without reading until the session's replies block.
  Session::Wait FloodUntilBlocked(absl::Time now) {
    const std::string lines(4096, '\n');
    Session::Wait w{Interest::kRead, now};
    for (int i = 0; i < 10000 && w.interest != Interest::kWrite; ++i) {
      ssize_t n = ::send(client_.get(), lines.data(), lines.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
      (void)n;
      w = Resume(now);
      EXPECT_LE(session_->pending_output(), config_.max_output_bytes);
    }
    // Then fill the kernel's queue toward the server as well: a backlog of
    // input the session has not read yet.
    while (::send(client_.get(), lines.data(), lines.size(), MSG_DONTWAIT | MSG_NOSIGNAL) > 0) {
    }
    return w;
  }

  // Reads at most `bytes` of what the server sent; returns how many.
  size_t ReadSome(size_t bytes) {
    std::string buf(bytes, '\0');
    ssize_t n = ::recv(client_.get(), buf.data(), buf.size(), MSG_DONTWAIT);
    return n > 0 ? static_cast<size_t>(n) : 0;
  }
};

TEST_F(SessionBoundsTest, PipelinedEmptyLinesNeverBufferMoreThanTheOutputCap) {
  Start();
  Resume(t0_);
  ASSERT_EQ(FloodUntilBlocked(t0_).interest, Interest::kWrite);
  // An empty line's reply is 7 bytes for 1 byte of input: the session read
  // only what fits, and the rest of the flood stayed in the kernel.
  EXPECT_GT(session_->pending_output(), 0u);
  EXPECT_LE(session_->pending_output(), config_.max_output_bytes);
  EXPECT_EQ(Resume(t0_).interest, Interest::kWrite);
  EXPECT_LE(session_->pending_output(), config_.max_output_bytes);
}

TEST_F(SessionBoundsTest, ABacklogThatIsCaughtUpCountsAsActivityAgain) {
  Start();
  Resume(t0_);
  ASSERT_EQ(FloodUntilBlocked(t0_).interest, Interest::kWrite);
  // At 5 s the client reads everything: the session catches up with its
  // input and the idle clock runs from its lines again.
  const absl::Time t5 = t0_ + absl::Seconds(5);
  Session::Wait w{Interest::kWrite, t5};
  for (int i = 0; i < 100000 && (w.interest != Interest::kRead || InputWaiting()); ++i) {
    while (ReadSome(1 << 16) > 0) {
    }
    w = Resume(t5);
  }
  ASSERT_EQ(w.interest, Interest::kRead);
  EXPECT_EQ(w.deadline, t5 + absl::Seconds(10));
  Send("x\n");
  Session::Wait after = Resume(t0_ + absl::Seconds(9));
  EXPECT_EQ(after.interest, Interest::kRead);
  EXPECT_EQ(after.deadline - t0_, absl::Seconds(19));
  EXPECT_EQ(Errors(ErrorKind::kSlowReader), 0);
}

TEST_F(SessionBoundsTest, ShutdownAnswersOnlyWhatOneBoundedReadHolds) {
  Start();
  Resume(t0_);
  Received();
  Send(std::string(50000, '\n'));  // far more than the output cap's worth
  session_->BeginShutdown(t0_ + absl::Seconds(5));
  EXPECT_EQ(Resume(t0_).interest, Interest::kDone);
  const std::string got = Received();
  ASSERT_GE(got.size(), common::kShutdownLine.size());
  EXPECT_EQ(got.substr(got.size() - common::kShutdownLine.size()), common::kShutdownLine);
  EXPECT_LE(got.size(), config_.max_output_bytes + common::kShutdownLine.size());
  EXPECT_GT(counters_.lines.load(), 0);
  EXPECT_LT(counters_.lines.load(), 1024 / 7 + 1);
}

TEST_F(SessionBoundsTest, ShutdownEndsByTheGraceDeadlineWhateverTheClientDoes) {
  Start();
  Resume(t0_);
  ASSERT_EQ(FloodUntilBlocked(t0_).interest, Interest::kWrite);
  session_->BeginShutdown(t0_ + absl::Seconds(2));
  Session::Wait w = Resume(t0_ + absl::Seconds(1));
  EXPECT_EQ(w.interest, Interest::kWrite);
  EXPECT_LE(w.deadline, t0_ + absl::Seconds(2));
  ReadSome(100);  // a trickle of progress does not buy more time
  EXPECT_EQ(Resume(t0_ + absl::Seconds(2)).interest, Interest::kDone);
}

TEST_F(SessionTest, AfterTrafficAnIdleSessionHoldsNoBuffers) {
  Start();
  EXPECT_GT(session_->heap_bytes(), 0u);  // the welcome, until it is sent
  Resume(t0_);
  Send("a line\nsplit 0123456789");  // 16 bytes pending: more than fits inline
  Resume(t0_);
  EXPECT_GT(session_->heap_bytes(), 0u);  // the partial line
  Send("\n");
  Resume(t0_);
  EXPECT_EQ(Received(), "welcome to server.\r\nok ...a line\nok ...split 0123456789\n");
  EXPECT_TRUE(session_->idle());
  EXPECT_EQ(session_->heap_bytes(), 0u);  // replies were staged in the worker's buffer
}

// --proxy_protocol: the header comes first, the welcome after it.
class ProxySessionTest : public SessionTest {
 protected:
  void SetUp() override {
    SessionTest::SetUp();
    config_.proxy_protocol = common::ProxyVersions::kAny;
    config_.proxy_header_timeout = absl::Seconds(3);
    config_.draining = &draining_;
  }
  int64_t Rejected(RejectReason reason) const {
    return stats_.Snapshot({}).rejected[static_cast<int>(reason)];
  }
  std::atomic<bool> draining_{false};
};

const char kV1Header[] = "PROXY TCP4 203.0.113.7 192.0.2.1 51234 8888\r\n";
// v2 LOCAL (what HAProxy's health checks send): signature, 0x20, 0x00, length 0.
const std::string kV2Local("\r\n\r\n\0\r\nQUIT\n\x20\x00\x00\x00", 16);

TEST_F(ProxySessionTest, WelcomeOnlyAfterTheHeaderAndTheClientsBytesStayItsOwn) {
  Start();
  Session::Wait w = Resume(t0_);
  EXPECT_EQ(w.interest, Interest::kRead);
  EXPECT_EQ(w.deadline, t0_ + absl::Seconds(3));
  EXPECT_EQ(Received(), "");  // no welcome before the header
  Send(std::string(kV1Header) + "first line\n");  // one segment: header and data
  Drive(t0_);
  EXPECT_EQ(Received(), "welcome to server.\r\nok ...first line\n");
}

TEST_F(ProxySessionTest, HeaderSplitAcrossReads) {
  Start();
  const std::string header = kV1Header;
  for (char c : header) {
    Send(std::string(1, c));
    EXPECT_EQ(Resume(t0_).interest, Interest::kRead);
  }
  EXPECT_EQ(Received(), "welcome to server.\r\n");
}

TEST_F(ProxySessionTest, MissingHeaderClosesWithoutAWelcome) {
  Start();
  Send("hello\n");
  EXPECT_EQ(Resume(t0_).interest, Interest::kDone);
  EXPECT_EQ(Received(), "");
  EXPECT_FALSE(session_->wants_graceful_close());
  EXPECT_EQ(Rejected(RejectReason::kProxyMissing), 1);
}

TEST_F(ProxySessionTest, MalformedHeaderIsCountedAsSuch) {
  Start();
  Send("PROXY TCP4 256.0.0.1 192.0.2.1 1 2\r\n");
  EXPECT_EQ(Resume(t0_).interest, Interest::kDone);
  EXPECT_EQ(Received(), "");
  EXPECT_EQ(Rejected(RejectReason::kProxyMalformed), 1);
}

TEST_F(ProxySessionTest, LateHeaderTimesOut) {
  Start();
  Send("PROXY TCP4 ");  // and then nothing
  EXPECT_EQ(Resume(t0_ + absl::Seconds(2)).interest, Interest::kRead);
  EXPECT_EQ(Resume(t0_ + absl::Seconds(3)).interest, Interest::kDone);
  EXPECT_EQ(Received(), "");
  EXPECT_EQ(Rejected(RejectReason::kProxyTimeout), 1);
}

TEST_F(ProxySessionTest, ShutdownBeforeTheHeaderSaysBye) {
  Start();
  Resume(t0_);
  session_->BeginShutdown(t0_ + absl::Seconds(5));
  EXPECT_EQ(Resume(t0_).interest, Interest::kDone);
  EXPECT_EQ(Received(), common::kShutdownLine);
  EXPECT_TRUE(session_->wants_graceful_close());
}

TEST_F(ProxySessionTest, HealthCheckWhileDrainingGetsTheShutdownLine) {
  Start();
  Send(kV2Local);
  Resume(t0_);
  EXPECT_EQ(Received(), "welcome to server.\r\n");  // serving: the check passes

  Start();  // a new connection, after the drain began
  draining_ = true;
  Send(kV2Local);
  EXPECT_EQ(Resume(t0_).interest, Interest::kDone);
  EXPECT_EQ(Received(), common::kShutdownLine);  // the check fails: proxy marks us down
}

TEST_F(ProxySessionTest, ClientsStillGetTheWelcomeWhileDraining) {
  draining_ = true;
  Start();
  Send(kV1Header);
  Resume(t0_);
  EXPECT_EQ(Received(), "welcome to server.\r\n");
}

}  // namespace
}  // namespace server
