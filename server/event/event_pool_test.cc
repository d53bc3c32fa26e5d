// EventPool with real sockets (socketpairs), a real queue and a real
// lingering closer: dispatch, hand-off, registration failure, shutdown.

#include "server/event/event_pool.h"

#include <fcntl.h>
#include <sys/socket.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/bounded_queue.h"
#include "common/protocol.h"
#include "common/socket.h"
#include "gtest/gtest.h"
#include "server/lingering_closer.h"

namespace server {
namespace {

class EventPoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config_.welcome_line = "welcome\r\n";
    config_.reply_prefix = "ok ...";
    config_.idle_timeout = absl::Seconds(30);
    ASSERT_TRUE(closer_.Start().ok());
  }
  void TearDown() override { closer_.Stop(absl::Now()); }

  void StartPool(int workers) {
    pool_ = std::make_unique<EventPool>(workers,
                                        WorkerPool::Deps{&queue_, &config_, &stats_, &closer_});
    ASSERT_TRUE(pool_->Start().ok());
  }

  // Queues the server end of a new socketpair; returns the client end.
  common::UniqueFd Queue() {
    int sv[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
    Connection conn{common::UniqueFd(sv[0]),
                    AdmissionTicket::TryTake(&stats_.open_connections, 1 << 20), absl::Now()};
    EXPECT_TRUE(queue_.TryPush(conn));
    return common::UniqueFd(sv[1]);
  }

  static std::string ReadLine(const common::UniqueFd& fd) {
    return common::RecvLine(fd, absl::Now() + absl::Seconds(10));
  }

  SessionConfig config_;
  Stats stats_;
  common::BoundedQueue<Connection> queue_{64};
  LingeringCloser closer_{absl::Seconds(1), 64};
  std::unique_ptr<EventPool> pool_;
};

TEST_F(EventPoolTest, EveryQueuedClientIsServedAtOnceAndBalanced) {
  StartPool(2);
  std::vector<common::UniqueFd> clients;
  for (int i = 0; i < 6; ++i) clients.push_back(Queue());
  pool_->OnQueued(6);
  for (auto& c : clients) {
    EXPECT_EQ(ReadLine(c), "welcome\r\n");
    ASSERT_TRUE(common::SendAll(c, "hi\n", absl::Now() + absl::Seconds(5)).ok());
    EXPECT_EQ(ReadLine(c), "ok ...hi\n");
  }
  // Dispatch balances by count: three sessions each.
  std::vector<const WorkerCounters*> counters = pool_->counters();
  ASSERT_EQ(counters.size(), 2u);
  EXPECT_EQ(counters[0]->sessions.load(), 3);
  EXPECT_EQ(counters[1]->sessions.load(), 3);
  clients.clear();
  queue_.Close();
  pool_->Shutdown(absl::Now() + absl::Seconds(5));
  EXPECT_EQ(stats_.Snapshot(pool_->counters()).lines_echoed, 6);
  EXPECT_EQ(stats_.active_sessions.load(), 0);
  EXPECT_EQ(stats_.open_connections.load(), 0);
}

// A client's last line and its FIN (or reset) often arrive together, in one
// readiness report: the session must still see the end at once, not at its
// idle timeout (30 s here).
TEST_F(EventPoolTest, ALastLineWithItsHangupEndsTheSessionAtOnce) {
  StartPool(2);
  std::vector<common::UniqueFd> clients;
  for (int i = 0; i < 50; ++i) clients.push_back(Queue());
  pool_->OnQueued(50);
  for (auto& c : clients) ASSERT_EQ(ReadLine(c), "welcome\r\n");
  for (auto& c : clients) {
    ASSERT_TRUE(common::SendAll(c, "bye now\n", absl::Now() + absl::Seconds(5)).ok());
    ::shutdown(c.get(), SHUT_WR);
  }
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  for (auto& c : clients) {
    EXPECT_EQ(ReadLine(c), "ok ...bye now\n");
    EXPECT_EQ(common::RecvLine(c, deadline), "") << "no EOF: the session is still open";
  }
  EXPECT_LT(absl::Now(), deadline);
  queue_.Close();
  pool_->Shutdown(absl::Now() + absl::Seconds(5));
  EXPECT_EQ(stats_.idle_timeouts.load(), 0);
}

TEST_F(EventPoolTest, NewClientsGoToTheLeastLoadedWorker) {
  StartPool(2);
  common::UniqueFd a = Queue(), b = Queue();
  pool_->OnQueued(2);
  EXPECT_EQ(ReadLine(a), "welcome\r\n");
  EXPECT_EQ(ReadLine(b), "welcome\r\n");
  a.Reset();  // one worker is now empty
  std::vector<const WorkerCounters*> counters = pool_->counters();
  for (int i = 0; i < 1000 && counters[0]->sessions + counters[1]->sessions != 1; ++i) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  const int empty = counters[0]->sessions.load() == 0 ? 0 : 1;
  common::UniqueFd c = Queue();
  pool_->OnQueued(1);
  EXPECT_EQ(ReadLine(c), "welcome\r\n");
  EXPECT_EQ(counters[empty]->sessions.load(), 1);
  EXPECT_EQ(counters[1 - empty]->sessions.load(), 1);
  queue_.Close();
  pool_->Shutdown(absl::Now() + absl::Seconds(5));
}

// A socket the worker cannot watch (epoll_ctl fails: here EPERM, in
// production ENOSPC or ENOMEM) costs that one client, not the server.
TEST_F(EventPoolTest, RegistrationFailureDropsOneClientAndServingGoesOn) {
  StartPool(1);
  Connection unwatchable{common::UniqueFd(::open("/dev/null", O_RDONLY | O_CLOEXEC)),
                         AdmissionTicket::TryTake(&stats_.open_connections, 1 << 20),
                         absl::Now()};
  ASSERT_TRUE(unwatchable.socket.valid());
  ASSERT_TRUE(queue_.TryPush(unwatchable));
  common::UniqueFd good = Queue();
  pool_->OnQueued(2);
  EXPECT_EQ(ReadLine(good), "welcome\r\n");
  ASSERT_TRUE(common::SendAll(good, "still here\n", absl::Now() + absl::Seconds(5)).ok());
  EXPECT_EQ(ReadLine(good), "ok ...still here\n");
  EXPECT_EQ(stats_.Snapshot({}).rejected[static_cast<int>(RejectReason::kEpollRegistration)],
            1);
  EXPECT_EQ(stats_.open_connections.load(), 1);  // the dropped client's place is free
  queue_.Close();
  pool_->Shutdown(absl::Now() + absl::Seconds(5));
  EXPECT_EQ(stats_.open_connections.load(), 0);
}

TEST_F(EventPoolTest, ShutdownAnswersSaysByeAndEndsByTheGraceDeadline) {
  StartPool(2);
  common::UniqueFd talker = Queue(), silent = Queue();
  pool_->OnQueued(2);
  EXPECT_EQ(ReadLine(talker), "welcome\r\n");
  EXPECT_EQ(ReadLine(silent), "welcome\r\n");
  ASSERT_TRUE(common::SendAll(talker, "last\n", absl::Now() + absl::Seconds(5)).ok());
  queue_.Close();
  pool_->Shutdown(absl::Now() + absl::Seconds(5));  // returns once both ended
  EXPECT_EQ(ReadLine(talker), "ok ...last\n");
  EXPECT_EQ(ReadLine(talker), common::kShutdownLine);
  EXPECT_EQ(ReadLine(silent), common::kShutdownLine);
  EXPECT_EQ(stats_.shutdown_goodbyes.load(), 2);
  EXPECT_EQ(stats_.active_sessions.load(), 0);
  EXPECT_EQ(stats_.open_connections.load(), 0);
}

// Dispatch spreads sessions evenly, but clients leave unevenly: here both of
// worker 1's clients go, and worker 0's two keep talking. Worker 1, asleep,
// is handed one of them (after the one-second stay every session gets).
TEST_F(EventPoolTest, AnIdleWorkerTakesOverWhenItsPeerHoldsMore) {
  StartPool(2);
  std::vector<common::UniqueFd> clients;
  for (int i = 0; i < 4; ++i) {  // one at a time: the workers take turns
    clients.push_back(Queue());
    pool_->OnQueued(1);
    ASSERT_EQ(ReadLine(clients.back()), "welcome\r\n");
  }
  std::vector<const WorkerCounters*> counters = pool_->counters();
  ASSERT_EQ(counters[0]->sessions.load(), 2);
  ASSERT_EQ(counters[1]->sessions.load(), 2);
  clients[1].Reset();  // worker 1's clients (the 2nd and 4th) leave
  clients[3].Reset();
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  int line = 0;
  while (counters[0]->sessions_moved.load() == 0 && absl::Now() < deadline) {
    for (int i : {0, 2}) {
      const std::string sent = absl::StrCat("line ", line++, "\n");
      ASSERT_TRUE(common::SendAll(clients[i], sent, absl::Now() + absl::Seconds(5)).ok());
      ASSERT_EQ(ReadLine(clients[i]), "ok ..." + sent);  // served wherever it lives
    }
  }
  // The moved session goes on as before: same conversation, no byte lost
  // (and once it has answered, its new worker holds it).
  for (int i : {0, 2}) {
    ASSERT_TRUE(common::SendAll(clients[i], "after\n", absl::Now() + absl::Seconds(5)).ok());
    EXPECT_EQ(ReadLine(clients[i]), "ok ...after\n");
  }
  EXPECT_EQ(counters[0]->sessions_moved.load(), 1);
  EXPECT_EQ(counters[0]->sessions.load(), 1);
  EXPECT_EQ(counters[1]->sessions.load(), 1);
  EXPECT_EQ(stats_.open_connections.load(), 2);  // the handed-over one counted once
  queue_.Close();
  pool_->Shutdown(absl::Now() + absl::Seconds(5));
  EXPECT_EQ(stats_.active_sessions.load(), 0);
  EXPECT_EQ(stats_.open_connections.load(), 0);
}

TEST_F(EventPoolTest, AssignedConnectionsTakenAtShutdownAreNotLost) {
  StartPool(1);
  common::UniqueFd c = Queue();
  // The server takes the queued client itself (to say goodbye) before the
  // worker gets to it; the worker then finds nothing and carries on.
  queue_.Close();
  std::vector<Connection> taken = queue_.TakeAll();
  EXPECT_EQ(taken.size(), 1u);
  pool_->OnQueued(1);
  pool_->Shutdown(absl::Now() + absl::Seconds(5));
  EXPECT_EQ(stats_.active_sessions.load(), 0);
  EXPECT_EQ(stats_.open_connections.load(), 1);  // the server holds it now
  taken.clear();
  EXPECT_EQ(stats_.open_connections.load(), 0);
}

}  // namespace
}  // namespace server
