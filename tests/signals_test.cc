// Signals the real server binary takes (README.md, "Signals and exit
// codes"), in both models: SIGHUP, SIGUSR1, SIGUSR2 and SIGALRM leave it
// serving (SIGHUP without TLS logs that there is nothing to reload; the TLS
// reload is tls_test's; SIGUSR1 logs a stats line); SIGTERM then ends it
// with exit 0 and the final stats. And the exit
// after the grace period is prompt: the main thread sleeps until a signal
// comes or the shutdown is done, with no periodic tick.

#include <signal.h>

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/protocol.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/server_harness.h"

namespace tests {
namespace {

using ::testing::HasSubstr;

const std::string kWelcome = "welcome to server.\r\n";

// Waits (bounded) until the server's log contains `text`.
bool LogShows(ServerProcess& server, const std::string& text) {
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (absl::Now() < deadline) {
    if (absl::StrContains(server.process().Stderr(), text)) return true;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return false;
}

class Signals : public BothModels {};

TEST_P(Signals, OtherSignalsKeepItServingAndSigtermStopsIt) {
  auto server = Start({"--workers=2"});
  ASSERT_TRUE(server->ok());
  RawClient client(server->port());
  ASSERT_TRUE(client.connected());
  ASSERT_EQ(client.ReadLine(), kWelcome);

  struct Case {
    int sig;
    std::string logged;
  };
  const std::vector<Case> cases = {
      {SIGHUP, "reload requested; nothing to reload (TLS is off)"},
      {SIGUSR1, "stats: accepted=1"},
      {SIGUSR2, "; ignored"},
      {SIGALRM, "; ignored"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(strsignal(c.sig));
    server->process().Signal(c.sig);
    EXPECT_TRUE(LogShows(*server, c.logged)) << server->process().Stderr();
    ASSERT_TRUE(server->process().Running());
    const std::string line = absl::StrCat("after signal ", c.sig);
    ASSERT_TRUE(client.Send(line + "\n"));
    EXPECT_EQ(client.ReadLine(), "ok ..." + line + "\n");
  }
  EXPECT_TRUE(ServesOneMore(*server));

  EXPECT_EQ(server->Stop(), 0);
  EXPECT_EQ(client.ReadLine(), std::string(common::kShutdownLine));
  EXPECT_EQ(server->FinalStat("lines"), 5);
}

TEST_P(Signals, ExitsPromptlyAfterGraceWithNoClients) {
  // Median of several runs: the old main thread polled for the end of the
  // shutdown every 100 ms, so it exited 100 ms after SIGTERM at best.
  std::vector<absl::Duration> took;
  for (int i = 0; i < 5; ++i) {
    auto server = Start({"--shutdown_grace_ms=0"});
    ASSERT_TRUE(server->ok());
    const absl::Time start = absl::Now();
    EXPECT_EQ(server->Stop(), 0);
    took.push_back(absl::Now() - start);
  }
  std::sort(took.begin(), took.end());
  EXPECT_LT(took[took.size() / 2], absl::Milliseconds(kSanitized ? 300 : 60))
      << "median exit after SIGTERM";
}

TEST_P(Signals, MainThreadDoesNotTickDuringShutdown) {
  // A client that neither reads nor closes keeps the lingering closer waiting
  // for the whole grace period; meanwhile the main thread must sleep (the
  // old one woke every 100 ms to check whether the shutdown was done).
  auto server = Start({"--shutdown_grace_ms=1500"});
  ASSERT_TRUE(server->ok());
  RawClient client(server->port());
  ASSERT_TRUE(client.connected());
  ASSERT_EQ(client.ReadLine(), kWelcome);
  server->process().Signal(SIGTERM);
  ASSERT_TRUE(LogShows(*server, "shutting down"));
  absl::SleepFor(absl::Milliseconds(100));
  const int64_t before = server->process().MainThreadVoluntarySwitches();
  absl::SleepFor(absl::Milliseconds(700));
  ASSERT_TRUE(server->process().Running()) << "the closer should still linger";
  const int64_t after = server->process().MainThreadVoluntarySwitches();
  ASSERT_GE(before, 0);
  EXPECT_LE(after - before, 1) << "the main thread woke up while the shutdown ran";
  // Not Stop(): a second SIGTERM would cut the shutdown short.
  EXPECT_EQ(server->process().Wait(absl::Seconds(30)), 0);
}

INSTANTIATE_FOR_BOTH_MODELS(Signals);

}  // namespace
}  // namespace tests
