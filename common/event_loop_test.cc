#include "common/event_loop.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "common/socket.h"
#include "common/unique_fd.h"
#include "gtest/gtest.h"

namespace common {
namespace {

// Records what the loop dispatched, turn by turn, and quits on request.
class Recorder : public EventLoop::Handler {
 public:
  explicit Recorder(EventLoop* loop) : loop_(loop) {}

  void OnWake(absl::Time) override { log.push_back("wake"); }
  void OnReady(uint64_t token, uint32_t readiness, absl::Time) override {
    log.push_back("ready " + std::to_string(token) + ((readiness & kReadable) ? " r" : "") +
                  ((readiness & kHangup) ? " hup" : "") + ((readiness & kUrgent) ? " urg" : ""));
    if (on_ready) on_ready(token);
  }
  void OnDue(uint64_t token, absl::Time now) override {
    log.push_back("due " + std::to_string(token));
    if (token == again_token && again_times > 0) {
      --again_times;
      loop_->SetDeadline(token, entries[token], now);
    }
  }
  DeadlineIndex::Entry& TimerEntry(uint64_t token) override { return entries[token]; }
  void AfterTurn(absl::Time) override {
    log.push_back("end");
    if (--turns_left == 0 || (done && done())) loop_->Quit();
  }

  EventLoop* loop_;
  std::vector<std::string> log;
  std::map<uint64_t, DeadlineIndex::Entry> entries;
  std::function<void(uint64_t)> on_ready;
  std::function<bool()> done;
  uint64_t again_token = 0;  // asks to run again at once, again_times times
  int again_times = 0;
  int turns_left = 1;
};

// Every behaviour holds on both backends (--io).
class EventLoopTest : public ::testing::TestWithParam<IoBackend> {};

std::pair<UniqueFd, UniqueFd> SocketPair() {
  int sv[2];
  EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
  return {UniqueFd(sv[0]), UniqueFd(sv[1])};
}

TEST_P(EventLoopTest, ReportsReadinessWithTheCallersToken) {
  auto loop = EventLoop::Create(GetParam());
  ASSERT_TRUE(loop.ok()) << loop.status();
  auto [a, b] = SocketPair();
  ASSERT_TRUE((*loop)->Watch(a.get(), 42, kReadable, Trigger::kEdge).ok());
  ASSERT_EQ(::write(b.get(), "x", 1), 1);
  Recorder r(loop->get());
  (*loop)->Run(r);
  EXPECT_EQ(r.log, (std::vector<std::string>{"ready 42 r", "end"}));
}

TEST_P(EventLoopTest, AHangupIsReportedAsSuch) {
  auto loop = EventLoop::Create(GetParam());
  ASSERT_TRUE(loop.ok());
  auto [a, b] = SocketPair();
  ASSERT_TRUE((*loop)->Watch(a.get(), 7, kReadable, Trigger::kEdge).ok());
  b.Reset();
  Recorder r(loop->get());
  (*loop)->Run(r);
  ASSERT_EQ(r.log.size(), 2u);
  EXPECT_NE(r.log[0].find("hup"), std::string::npos) << r.log[0];
}

TEST_P(EventLoopTest, WakeFromAnotherThreadRunsATurn) {
  auto loop = EventLoop::Create(GetParam());
  ASSERT_TRUE(loop.ok());
  Recorder r(loop->get());
  // Turns until the wake-up's: a wait may also end with nothing to report
  // (a signal, as the sanitizers' runtimes send), and the loop must not
  // stop before the waker has seen it asleep.
  r.turns_left = 1000;
  r.done = [&r] { return std::count(r.log.begin(), r.log.end(), "wake") > 0; };
  std::thread waker([&] {
    while (!(*loop)->asleep()) absl::SleepFor(absl::Milliseconds(1));
    (*loop)->Wake();
    (*loop)->Wake();  // coalesced with the first
  });
  (*loop)->Run(r);
  waker.join();
  ASSERT_GE(r.log.size(), 2u);
  EXPECT_EQ(std::count(r.log.begin(), r.log.end(), "wake"), 1);
  EXPECT_EQ(r.log[r.log.size() - 2], "wake");
  EXPECT_EQ(r.log.back(), "end");
}

// Wake() coalesces; no wake-up may be lost however they interleave with the
// loop's draining. (A lost one leaves this test waiting: Bazel's timeout.)
TEST_P(EventLoopTest, NoWakeUpIsLostUnderConcurrentWakes) {
  auto loop = EventLoop::Create(GetParam());
  ASSERT_TRUE(loop.ok());
  constexpr int kWakes = 200000;
  std::atomic<int> posted{0};

  class Counter : public EventLoop::Handler {
   public:
    Counter(EventLoop* loop, std::atomic<int>* posted) : loop_(loop), posted_(posted) {}
    void OnWake(absl::Time) override {
      if (posted_->load(std::memory_order_acquire) == kWakes) loop_->Quit();
    }
    void OnReady(uint64_t, uint32_t, absl::Time) override {}
    DeadlineIndex::Entry& TimerEntry(uint64_t) override { return entry_; }

   private:
    EventLoop* loop_;
    std::atomic<int>* posted_;
    DeadlineIndex::Entry entry_;
  } counter(loop->get(), &posted);

  std::thread waker([&] {
    for (int i = 0; i < kWakes; ++i) {
      posted.fetch_add(1, std::memory_order_release);
      (*loop)->Wake();
    }
  });
  (*loop)->Run(counter);
  waker.join();
  EXPECT_EQ(posted.load(), kWakes);
}

TEST_P(EventLoopTest, DeadlinesComeDueInOrderAndARefiledOneWaitsForTheNextTurn) {
  auto loop = EventLoop::Create(GetParam());
  ASSERT_TRUE(loop.ok());
  Recorder r(loop->get());
  const absl::Time now = absl::Now();
  (*loop)->SetDeadline(2, r.entries[2], now + absl::Milliseconds(2));
  (*loop)->SetDeadline(1, r.entries[1], now + absl::Milliseconds(1));
  (*loop)->SetDeadline(3, r.entries[3], now + absl::Hours(1));
  // Token 1 asks to run again at once while it is due: not in the same turn.
  // (Once, whichever turn it first comes due in: a wait may end a little
  // before the deadline by the clock the loop reads, so that turn may be
  // the second.)
  r.again_token = 1;
  r.again_times = 1;
  r.turns_left = 100;
  r.done = [&r] {
    return std::count(r.log.begin(), r.log.end(), "due 1") == 2 &&
           std::count(r.log.begin(), r.log.end(), "due 2") >= 1;
  };
  (*loop)->Run(r);
  std::vector<std::string> due;
  for (const std::string& line : r.log) {
    if (line != "end") due.push_back(line);
  }
  ASSERT_GE(due.size(), 3u);
  // However the two short deadlines fall into turns, 1 comes before 2, and
  // its re-run comes in a later turn than its first run.
  EXPECT_EQ(due[0], "due 1");
  EXPECT_NE(std::find(due.begin(), due.end(), "due 2"), due.end());
  EXPECT_EQ(std::count(due.begin(), due.end(), "due 3"), 0);
  const auto first_end = std::find(r.log.begin(), r.log.end(), "end");
  EXPECT_EQ(std::count(r.log.begin(), first_end, "due 1"), 1) << "token 1 ran twice in a turn";
  EXPECT_EQ(std::count(r.log.begin(), r.log.end(), "due 1"), 2) << "its re-run never came";
}

TEST_P(EventLoopTest, UnwatchedDescriptorsAreNotReported) {
  auto loop = EventLoop::Create(GetParam());
  ASSERT_TRUE(loop.ok());
  auto [a, b] = SocketPair();
  ASSERT_TRUE((*loop)->Watch(a.get(), 5, kReadable, Trigger::kLevel).ok());
  ASSERT_TRUE((*loop)->Unwatch(a.get()).ok());
  ASSERT_EQ(::write(b.get(), "x", 1), 1);
  Recorder r(loop->get());
  r.entries[9];
  (*loop)->SetDeadline(9, r.entries[9], absl::Now() + absl::Milliseconds(20));
  // Turns with nothing to report may come first (io_uring: the removed
  // watch's own completion; epoll: a wait ending early).
  r.turns_left = 100;
  r.done = [&r] { return std::count(r.log.begin(), r.log.end(), "due 9") == 1; };
  (*loop)->Run(r);
  EXPECT_EQ(std::count_if(r.log.begin(), r.log.end(),
                          [](const std::string& line) { return line.rfind("ready", 0) == 0; }),
            0);
}

// epoll only: an io_uring poll request on a file without a poll method
// completes at once with the default mask (always ready), as poll(2) does.
TEST(EpollEventLoopTest, AWatchOnADescriptorThatCannotBePolledIsAnError) {
  auto loop = EventLoop::Create(IoBackend::kEpoll);
  ASSERT_TRUE(loop.ok());
  UniqueFd file(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(file.valid());
  EXPECT_FALSE((*loop)->Watch(file.get(), 1, kReadable, Trigger::kEdge).ok());
}

// Edge-triggered: one report per arrival, not one per turn while unread
// (io_uring: a multishot poll request reports wake-ups, not state).
TEST_P(EventLoopTest, AnEdgeIsReportedOnceUntilMoreArrives) {
  auto loop = EventLoop::Create(GetParam());
  ASSERT_TRUE(loop.ok()) << loop.status();
  auto [a, b] = SocketPair();
  ASSERT_TRUE((*loop)->Watch(a.get(), 3, kReadable, Trigger::kEdge).ok());
  ASSERT_EQ(::write(b.get(), "x", 1), 1);
  Recorder r(loop->get());
  (*loop)->Run(r);
  r.log.clear();
  r.turns_left = 100;
  r.done = [&r] { return std::count(r.log.begin(), r.log.end(), "due 9") == 1; };
  (*loop)->SetDeadline(9, r.entries[9], absl::Now() + absl::Milliseconds(30));
  (*loop)->Run(r);
  r.done = nullptr;
  EXPECT_EQ(std::count_if(r.log.begin(), r.log.end(),
                          [](const std::string& line) { return line.rfind("ready", 0) == 0; }),
            0);
  ASSERT_EQ(::write(b.get(), "y", 1), 1);
  r.log.clear();
  r.turns_left = 1;
  (*loop)->Run(r);
  // io_uring may add " urg": see common/uring_poller.cc.
  ASSERT_EQ(r.log.size(), 2u);
  EXPECT_EQ(r.log[0].rfind("ready 3 r", 0), 0u) << r.log[0];
}

// After Unwatch and close, the socket is really closed once the loop has run
// a turn: the peer reads EOF (an io_uring poll request holds its own
// reference to the socket until it is removed).
TEST_P(EventLoopTest, AnUnwatchedClosedSocketCloses) {
  auto loop = EventLoop::Create(GetParam());
  ASSERT_TRUE(loop.ok()) << loop.status();
  auto [a, b] = SocketPair();
  ASSERT_TRUE((*loop)->Watch(a.get(), 4, kReadable, Trigger::kEdge).ok());
  Recorder r(loop->get());
  (*loop)->SetDeadline(9, r.entries[9], absl::Now());
  (*loop)->Run(r);  // the watch is in the kernel now
  ASSERT_TRUE((*loop)->Unwatch(a.get()).ok());
  a.Reset();
  r.log.clear();
  r.turns_left = 1;
  (*loop)->SetDeadline(9, r.entries[9], absl::Now());
  (*loop)->Run(r);
  char byte;
  bool eof = false;
  for (int i = 0; i < 100 && !eof; ++i) {
    if (::read(b.get(), &byte, 1) == 0) eof = true;
    else absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_TRUE(eof) << "the peer never saw the close";
}

// An Unwatch in the loop's last turn still reaches the kernel (no wait
// follows it to carry it): the socket closes.
TEST_P(EventLoopTest, AnUnwatchInTheLastTurnStillReleasesTheSocket) {
  auto loop = EventLoop::Create(GetParam());
  ASSERT_TRUE(loop.ok()) << loop.status();
  // Named, not a structured binding: C++17 lambdas cannot capture those.
  auto sockets = SocketPair();
  UniqueFd& a = sockets.first;
  UniqueFd& b = sockets.second;
  ASSERT_TRUE((*loop)->Watch(a.get(), 6, kReadable, Trigger::kEdge).ok());
  ASSERT_EQ(::write(b.get(), "x", 1), 1);
  Recorder r(loop->get());
  r.on_ready = [&](uint64_t) {
    EXPECT_TRUE((*loop)->Unwatch(a.get()).ok());
    a.Reset();
  };
  (*loop)->Run(r);  // one turn, then Quit
  ASSERT_FALSE(a.valid());
  char byte;
  bool eof = false;
  for (int i = 0; i < 100 && !eof; ++i) {
    if (::read(b.get(), &byte, 1) == 0) eof = true;
    else absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_TRUE(eof) << "the peer never saw the close";
}

INSTANTIATE_TEST_SUITE_P(Backends, EventLoopTest,
                         ::testing::Values(IoBackend::kEpoll, IoBackend::kIoUring),
                         [](const ::testing::TestParamInfo<IoBackend>& info) {
                           return std::string(info.param == IoBackend::kEpoll ? "epoll"
                                                                              : "io_uring");
                         });

}  // namespace
}  // namespace common
