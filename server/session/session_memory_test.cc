// The session state machine against an in-memory transport: no socket, no
// kernel buffer sizes, no timing. What a completion-based backend or an
// encrypting layer must also see from the same Session: exact bytes, partial
// writes, the per-turn share, errors and end of stream.

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/protocol.h"
#include "gtest/gtest.h"
#include "server/admission_ticket.h"
#include "server/session/memory_transport.h"
#include "server/session/session.h"

namespace server {
namespace {

using Interest = Session::Interest;

class SessionMemoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config_.welcome_line = "welcome\r\n";
    config_.reply_prefix = "ok ...";
    config_.max_line_bytes = 64;
    config_.max_output_bytes = 1 << 20;
    config_.idle_timeout = absl::Seconds(10);
    config_.write_timeout = absl::Seconds(5);
  }

  void Start() {
    auto transport = std::make_unique<MemoryTransport>();
    io_ = transport.get();
    context_ = std::make_unique<WorkerContext>(config_, &counters_);
    session_ = std::make_unique<Session>(std::move(transport),
                                         AdmissionTicket::TryTake(&open_, 10), &config_,
                                         &stats_, t0_);
  }

  Session::Wait Resume(absl::Time now) { return session_->Resume(now, *context_); }

  int64_t Errors(ErrorKind kind) const {
    return stats_.Snapshot({}).errors[static_cast<int>(kind)];
  }

  SessionConfig config_;
  Stats stats_;
  WorkerCounters counters_;
  std::atomic<int64_t> open_{0};
  std::unique_ptr<WorkerContext> context_;
  const absl::Time t0_ = absl::FromUnixSeconds(1000000);
  MemoryTransport* io_ = nullptr;  // owned by session_
  std::unique_ptr<Session> session_;
};

TEST_F(SessionMemoryTest, EchoesExactlyAndReadsNoMoreThanTheInputNeeds) {
  Start();
  io_->Feed("one\ntwo\r\nthr");
  Session::Wait w = Resume(t0_);
  EXPECT_EQ(w.interest, Interest::kRead);
  EXPECT_EQ(w.deadline, t0_ + absl::Seconds(10));
  EXPECT_EQ(io_->TakeOutput(), "welcome\r\nok ...one\nok ...two\r\n");
  // The transport said its input was drained: no read just to hear "nothing".
  EXPECT_EQ(io_->reads(), 1u);
  io_->Feed("ee\n");
  Resume(t0_);
  EXPECT_EQ(io_->TakeOutput(), "ok ...three\n");
}

TEST_F(SessionMemoryTest, PartialWritesKeepOrderAndWaitForRoom) {
  Start();
  io_->set_write_room(4);
  io_->Feed("abc\ndef\n");
  Session::Wait w = Resume(t0_);
  EXPECT_EQ(w.interest, Interest::kWrite);
  EXPECT_EQ(w.deadline, t0_ + absl::Seconds(5));  // the write timeout
  std::string out = io_->TakeOutput();
  EXPECT_EQ(out, "welc");
  for (int i = 0; i < 20 && w.interest == Interest::kWrite; ++i) {
    io_->set_write_room(3);
    w = Resume(t0_ + absl::Seconds(1));
    out += io_->TakeOutput();
  }
  EXPECT_EQ(w.interest, Interest::kRead);
  EXPECT_EQ(out, "welcome\r\nok ...abc\nok ...def\n");
  EXPECT_EQ(session_->pending_output(), 0u);
}

// Fairness: a client pipelining without pause gets kTurnBytes of work per
// Resume(), then yields (wait: read, due now) so the worker serves others.
TEST_F(SessionMemoryTest, APipeliningClientYieldsAfterItsShareOfTheTurn) {
  Start();
  Resume(t0_);
  io_->TakeOutput();
  const std::string lines(1 << 20, '\n');  // a million empty lines
  io_->Feed(lines);
  size_t total = 0;
  int turns = 0;
  for (Session::Wait w{Interest::kRead, t0_}; total < lines.size() * 7; ++turns) {
    ASSERT_LT(turns, 1000);
    w = Resume(t0_);
    const size_t produced = io_->TakeOutput().size();
    // Input plus replies stay within one share.
    EXPECT_LE(produced, Session::kTurnBytes) << "turn " << turns;
    total += produced;
    if (total < lines.size() * 7) {
      ASSERT_EQ(w.interest, Interest::kRead);
      EXPECT_EQ(w.deadline, t0_) << "a yielding session asks to run again at once";
    }
  }
  EXPECT_EQ(total, lines.size() * 7);  // "ok ...\n" per line: nothing lost
  EXPECT_GT(turns, 100);
}

TEST_F(SessionMemoryTest, EndOfStreamDiscardsAPartialLineAndEnds) {
  Start();
  io_->Feed("done\nhalf");
  io_->FeedEof();
  EXPECT_EQ(Resume(t0_).interest, Interest::kDone);
  EXPECT_EQ(io_->TakeOutput(), "welcome\r\nok ...done\n");
  EXPECT_FALSE(session_->wants_graceful_close());
  EXPECT_EQ(stats_.Snapshot({}).errors[static_cast<int>(ErrorKind::kConnectionReset)], 0);
}

// A completion-based transport takes replies before the kernel has sent
// them. The replies before a client's FIN (and any closing line) must be
// delivered, not cancelled: the session waits for them before it ends.
TEST_F(SessionMemoryTest, WaitsForTheTransportsUnsentBytesBeforeItEnds) {
  Start();
  io_->Feed("last\n");
  io_->FeedEof();
  io_->set_unsent(12);
  const Session::Wait w = Resume(t0_);
  EXPECT_EQ(w.interest, Interest::kWrite);
  EXPECT_EQ(w.deadline, t0_ + config_.write_timeout);
  EXPECT_EQ(io_->TakeOutput(), "welcome\r\nok ...last\n");
  io_->set_unsent(0);
  EXPECT_EQ(Resume(t0_ + absl::Milliseconds(1)).interest, Interest::kDone);
  EXPECT_EQ(Errors(ErrorKind::kWriteTimeout), 0);
}

TEST_F(SessionMemoryTest, UnsentBytesThatNeverGoEndTheSessionAtTheWriteTimeout) {
  Start();
  io_->Feed("last\n");
  io_->FeedEof();
  io_->set_unsent(12);
  EXPECT_EQ(Resume(t0_).interest, Interest::kWrite);
  // Turns without progress do not push the deadline back; progress does (a
  // slow but steady reader gets every reply).
  EXPECT_EQ(Resume(t0_ + absl::Seconds(1)).deadline, t0_ + config_.write_timeout);
  io_->set_unsent(5);
  const absl::Time later = t0_ + absl::Seconds(4);
  EXPECT_EQ(Resume(later).deadline, later + config_.write_timeout);
  EXPECT_EQ(Resume(later + config_.write_timeout).interest, Interest::kDone);
  EXPECT_EQ(Errors(ErrorKind::kWriteTimeout), 1);
}

// What the transport has taken counts against the output bound: with it
// full the session reads nothing more until replies go out.
TEST_F(SessionMemoryTest, UnsentBytesCountAgainstTheOutputBound) {
  config_.max_output_bytes = 4096;
  Start();
  Resume(t0_);
  io_->TakeOutput();
  io_->set_unsent(4096);
  io_->Feed("more\n");
  const size_t reads = io_->reads();
  EXPECT_EQ(Resume(t0_).interest, Interest::kWrite);
  EXPECT_EQ(io_->reads(), reads);
  io_->set_unsent(0);
  EXPECT_EQ(Resume(t0_).interest, Interest::kRead);
  EXPECT_EQ(io_->TakeOutput(), "ok ...more\n");
}

TEST_F(SessionMemoryTest, ATransportErrorEndsTheSessionAsAReset) {
  Start();
  Resume(t0_);
  io_->Break(ECONNRESET);
  io_->Feed("never read\n");
  EXPECT_EQ(Resume(t0_).interest, Interest::kDone);
  EXPECT_EQ(Errors(ErrorKind::kConnectionReset), 1);
}

TEST_F(SessionMemoryTest, TooLongALineGetsTheErrorLineAndAGracefulClose) {
  Start();
  io_->Feed(std::string(100, 'x') + "\n");
  EXPECT_EQ(Resume(t0_).interest, Interest::kDone);
  EXPECT_EQ(io_->TakeOutput(), absl::StrCat("welcome\r\n", common::kLineTooLongLine));
  EXPECT_TRUE(session_->wants_graceful_close());
  EXPECT_EQ(Errors(ErrorKind::kLineTooLong), 1);
}

// A client streaming lines as fast as it reads the replies always has input
// queued, but it takes every reply: it is busy, not a slow reader, and its
// lines keep its idle deadline moving. When it stops reading, its replies'
// wait starts the slow-reader clock and the write timeout's.
TEST_F(SessionMemoryTest, AStreamThatKeepsReadingIsNotASlowReader) {
  Start();
  Resume(t0_);
  io_->TakeOutput();
  std::string lines;
  for (int i = 0; i < (1 << 21); ++i) lines += "x\n";
  io_->Feed(lines);
  io_->set_write_room(1000);
  ASSERT_EQ(Resume(t0_).interest, Interest::kWrite);  // replies wait
  io_->set_write_room(static_cast<size_t>(-1));
  Resume(t0_ + absl::Seconds(4));  // the client takes them all and goes on
  io_->TakeOutput();
  io_->set_write_room(0);
  Session::Wait w = Resume(t0_ + absl::Seconds(11));  // past t0 + the idle timeout
  EXPECT_EQ(w.interest, Interest::kWrite);
  EXPECT_EQ(w.deadline, t0_ + absl::Seconds(16));  // the write timeout, from 11 s
  EXPECT_EQ(Errors(ErrorKind::kSlowReader), 0);
  EXPECT_EQ(Resume(w.deadline).interest, Interest::kDone);  // it stopped reading
  EXPECT_EQ(Errors(ErrorKind::kWriteTimeout), 1);
  EXPECT_EQ(Errors(ErrorKind::kSlowReader), 0);
}

// A slow reader: replies pile up to the output cap and the client takes
// 4 KiB a second, so they never all get taken. Its lines are not activity:
// at the idle timeout after its replies began to wait it is told goodbye,
// and within the write timeout after that it is gone, while every second
// made progress (no write timeout before).
TEST_F(SessionMemoryTest, SlowReaderIsClosedOnceItsRepliesWaitedTheIdleTimeout) {
  config_.max_output_bytes = 64 << 10;
  Start();
  Resume(t0_);
  io_->TakeOutput();
  io_->Feed(std::string(1 << 20, '\n'));
  io_->set_write_room(0);
  Session::Wait w = Resume(t0_);
  ASSERT_EQ(w.interest, Interest::kWrite);
  absl::Time now = t0_;
  for (int second = 1; second <= 20 && w.interest != Interest::kDone; ++second) {
    now = t0_ + absl::Seconds(second);
    io_->set_write_room(4096);
    w = Resume(now);
    if (second < 10) {
      EXPECT_NE(w.interest, Interest::kDone) << "closed early, at " << second << " s";
    }
    EXPECT_LE(session_->pending_output(), config_.max_output_bytes + 64);
  }
  EXPECT_EQ(w.interest, Interest::kDone);
  EXPECT_GE(now, t0_ + absl::Seconds(10));
  EXPECT_LE(now, t0_ + absl::Seconds(15));
  EXPECT_EQ(Errors(ErrorKind::kSlowReader), 1);
  EXPECT_EQ(Errors(ErrorKind::kWriteTimeout), 0);
}

// A session ends for one reason: a client whose line was too long and who
// then cannot take the error line is one error (too long), not two.
TEST_F(SessionMemoryTest, AnErrorThenAFailedClosingLineCountsOneError) {
  Start();
  Resume(t0_);
  io_->TakeOutput();
  io_->set_write_room(0);
  io_->Feed(std::string(100, 'x') + "\n");
  Session::Wait w = Resume(t0_);
  ASSERT_EQ(w.interest, Interest::kWrite);
  EXPECT_EQ(Resume(w.deadline).interest, Interest::kDone);  // the write timed out
  EXPECT_EQ(Errors(ErrorKind::kLineTooLong), 1);
  EXPECT_EQ(Errors(ErrorKind::kWriteTimeout), 0);
  EXPECT_EQ(stats_.Snapshot({}).errors_total(), 1);
}

TEST_F(SessionMemoryTest, TheSessionHoldsItsPlaceInTheCountUntilDestroyed) {
  Start();
  EXPECT_EQ(open_.load(), 1);
  io_->FeedEof();
  EXPECT_EQ(Resume(t0_).interest, Interest::kDone);
  EXPECT_EQ(open_.load(), 1);  // the socket is not closed yet
  session_.reset();
  EXPECT_EQ(open_.load(), 0);
}

// The PROXY header is peeked, so the client's own bytes after it, in the
// same read, stay the client's.
TEST_F(SessionMemoryTest, BytesAfterAProxyHeaderAreTheClients) {
  config_.proxy_protocol = common::ProxyVersions::kAny;
  config_.proxy_header_timeout = absl::Seconds(3);
  Start();
  io_->Feed("PROXY TCP4 203.0.113.7 192.0.2.1 51234 8888\r\nhello\n");
  EXPECT_EQ(Resume(t0_).interest, Interest::kRead);
  EXPECT_EQ(io_->TakeOutput(), "welcome\r\nok ...hello\n");
}

}  // namespace
}  // namespace server
