// Faults, floods and hostile clients against the real server binary: it
// keeps serving the clients it accepted, answers every line it received,
// never crashes, never leaks and never mixes one client's data with another's.
// Every wait is bounded; no assertion depends on how fast the machine is,
// except the CPU-time bound of the EMFILE test, which is generous by orders
// of magnitude (a busy spin would burn the whole measured interval).

#include <signal.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/socket.h>

#include <memory>
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

using ::testing::AnyOf;
using ::testing::HasSubstr;

const std::string kWelcome = "welcome to server.\r\n";

std::unique_ptr<ServerProcess> Start(std::vector<std::string> flags,
                                     SubprocessOptions options = {}) {
  flags.push_back("--stats_interval_ms=0");
  auto server = std::make_unique<ServerProcess>(flags, options);
  EXPECT_TRUE(server->ok()) << server->process().Stderr();
  return server;
}

bool ServesOneMore(ServerProcess& server, const std::string& line = "still alive") {
  ClientResult r = RunClient({"--port_file=" + server.port_file(), "--timeout_ms=10000",
                              "--quiet", line});
  return r.exit_code == 0 && r.out == "ok ..." + line + "\n";
}

TEST(Reliability, FloodUnderRejectGetsBusyAndServerStaysUp) {
  auto server = Start({"--workers=2", "--queue_capacity=2"});
  const int64_t rss_before = server->process().RssBytes();
  std::vector<std::unique_ptr<RawClient>> clients;
  for (int i = 0; i < 40; ++i) clients.push_back(std::make_unique<RawClient>(server->port()));
  int welcomed = 0;
  int busy = 0;
  int waiting = 0;  // queued: accepted, no line yet
  for (auto& c : clients) {
    const std::string line = c->ReadLine(absl::Seconds(2));
    if (line == kWelcome) {
      ++welcomed;
    } else if (line == common::kBusyLine) {
      ++busy;
    } else {
      EXPECT_EQ(line, "") << "unexpected first line";
      ++waiting;
    }
  }
  // At most workers + queue fit (fewer if the burst outran the workers'
  // first pops); every other client was told "busy", none left hanging.
  EXPECT_EQ(welcomed, 2);
  EXPECT_LE(waiting, 2);
  EXPECT_EQ(welcomed + waiting + busy, 40);
  EXPECT_GE(busy, 36);
  clients.clear();
  EXPECT_TRUE(ServesOneMore(*server));
  EXPECT_EQ(server->Stop(), 0);
  EXPECT_GE(server->FinalStat("rejected_busy"), 30);
  EXPECT_LE(server->FinalStat("queued_peak"), 2);
  EXPECT_LT(server->process().PeakRssBytes(), rss_before + (64 << 20));
}

TEST(Reliability, FloodUnderBlockWaitsAndRecovers) {
  auto server = Start({"--workers=1", "--queue_capacity=1", "--overload_policy=block",
                       "--listen_backlog=8"});
  RawClient holder(server->port());
  ASSERT_EQ(holder.ReadLine(), kWelcome);
  std::vector<std::unique_ptr<Subprocess>> clients;
  for (int i = 0; i < 20; ++i) {
    clients.push_back(StartClient({"--port_file=" + server->port_file(), "--timeout_ms=500",
                                   "--quiet", "hi"}));
  }
  int timed_out = 0;
  for (auto& c : clients) {
    std::optional<int> code = c->Wait(absl::Seconds(30));
    ASSERT_TRUE(code.has_value());
    // Nobody is rejected under `block`: they wait, and give up on their own.
    EXPECT_THAT(*code, AnyOf(0, 4)) << c->Stderr();
    if (*code == 4) ++timed_out;
  }
  EXPECT_GT(timed_out, 0);
  holder.Close();
  EXPECT_TRUE(ServesOneMore(*server));
  EXPECT_EQ(server->Stop(), 0);
  EXPECT_EQ(server->FinalStat("rejected_busy"), 0);
}

TEST(Reliability, OutOfFileDescriptorsNoSpinAndRecovers) {
  SubprocessOptions low_fds;
  low_fds.rlimit_nofile = 64;
  auto server = Start({"--workers=4", "--queue_capacity=256", "--idle_timeout_ms=0"}, low_fds);
  std::vector<std::unique_ptr<RawClient>> clients;
  for (int i = 0; i < 200; ++i) clients.push_back(std::make_unique<RawClient>(server->port()));
  int busy = 0;
  for (auto& c : clients) {
    const std::string line = c->ReadLine(absl::Milliseconds(300));
    if (line == common::kBusyLine) ++busy;
  }
  EXPECT_GT(busy, 0);
  // While the table stays full and clients keep waiting, the acceptor must
  // sleep, not spin: measure the server's CPU time over one second.
  const absl::Duration cpu_before = server->process().CpuTime();
  absl::SleepFor(absl::Seconds(1));
  const absl::Duration cpu_used = server->process().CpuTime() - cpu_before;
  EXPECT_LT(cpu_used, absl::Milliseconds(300)) << "busy spin while out of descriptors?";
  clients.clear();  // everyone leaves
  // Full service again once descriptors are free.
  bool served = false;
  for (int i = 0; i < 50 && !served; ++i) {
    served = ServesOneMore(*server);
    if (!served) absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_TRUE(served);
  EXPECT_EQ(server->Stop(), 0);
  EXPECT_GE(server->FinalStat("emfile_episodes"), 1);
  const std::string log = server->process().Stderr();
  size_t warnings = 0;
  for (size_t at = log.find("turning new clients away"); at != std::string::npos;
       at = log.find("turning new clients away", at + 1)) {
    ++warnings;
  }
  EXPECT_EQ(static_cast<long long>(warnings), server->FinalStat("emfile_episodes"));
}

TEST(Reliability, SlowlorisCannotHoldWorkersPastIdleTimeout) {
  auto server = Start({"--workers=2", "--queue_capacity=8", "--idle_timeout_ms=400"});
  RawClient silent(server->port());
  RawClient trickler(server->port());
  ASSERT_EQ(silent.ReadLine(), kWelcome);
  ASSERT_EQ(trickler.ReadLine(), kWelcome);
  // Both workers are taken. A well-behaved client waits in the queue...
  auto good = StartClient({"--port_file=" + server->port_file(), "--timeout_ms=20000", "--quiet",
                           "served at last"});
  // ...while the trickler sends a byte every 100 ms, never finishing a line.
  std::string trickler_got;
  for (int i = 0; i < 30 && good->Running(); ++i) {
    trickler.Send("x");
    absl::SleepFor(absl::Milliseconds(100));
  }
  ASSERT_EQ(good->Wait(absl::Seconds(30)), 0) << good->Stderr();
  EXPECT_EQ(good->Stdout(), "ok ...served at last\n");
  EXPECT_EQ(silent.ReadAll(), common::kIdleTimeoutLine);
  EXPECT_EQ(trickler.ReadAll(), common::kIdleTimeoutLine);
  EXPECT_EQ(server->Stop(), 0);
  EXPECT_EQ(server->FinalStat("idle_timeouts"), 2);
}

TEST(Reliability, ClientThatNeverReadsIsDroppedAndMemoryStaysFlat) {
  auto server = Start({"--workers=1", "--write_timeout_ms=300"});
  RawClient hog(server->port());
  ASSERT_EQ(hog.ReadLine(), kWelcome);
  const int64_t rss_before = server->process().RssBytes();
  // Send 64 MiB of short lines without reading a single reply.
  const std::string lines(1 << 16, '\n');
  int64_t sent = 0;
  for (int i = 0; i < 1024; ++i) {
    if (!hog.SendFor(lines, absl::Milliseconds(50))) break;
    sent += static_cast<int64_t>(lines.size());
  }
  // The worker is freed by the write timeout: the next client is served.
  EXPECT_TRUE(ServesOneMore(*server));
  EXPECT_LT(server->process().PeakRssBytes(), rss_before + (16 << 20))
      << "unread replies must not pile up in the server (sent " << sent << " bytes)";
  EXPECT_EQ(server->Stop(), 0);
  EXPECT_GE(server->FinalStat("errors"), 1);
}

TEST(Reliability, KilledClientsAndResetsNeverHurtTheServer) {
  auto server = Start({"--workers=8"});
  std::vector<std::unique_ptr<Subprocess>> loaders;
  for (int i = 0; i < 3; ++i) {
    loaders.push_back(StartClient({"--port_file=" + server->port_file(), "--load",
                                   "--connections=8", "--duration_ms=20000", "--progress=false"}));
  }
  absl::SleepFor(absl::Milliseconds(500));
  for (auto& l : loaders) l->Signal(SIGKILL);  // kill -9 mid-conversation
  for (auto& l : loaders) l->Wait(absl::Seconds(10));
  for (int i = 0; i < 20; ++i) {  // RST mid-line
    RawClient c(server->port());
    c.Send("half");
    c.Reset();
  }
  EXPECT_TRUE(ServesOneMore(*server));
  EXPECT_EQ(server->Stop(), 0);
  EXPECT_THAT(server->FinalStats(), HasSubstr("active=0"));
}

TEST(Reliability, SigtermUnderLoadLosesNoReceivedLine) {
  auto server = Start({"--workers=64", "--shutdown_grace_ms=5000"});
  // The load client checks every reply byte for byte; a session ended by the
  // server counts as server_closed, a wrong or missing byte as a mismatch.
  auto load = StartClient({"--port_file=" + server->port_file(), "--load", "--connections=32",
                           "--duration_ms=30000", "--json", "--progress=false"});
  absl::SleepFor(absl::Seconds(1));
  const absl::Time signalled = absl::Now();
  server->process().Signal(SIGTERM);
  EXPECT_EQ(server->process().Wait(absl::Seconds(30)), 0);
  EXPECT_LT(absl::Now() - signalled, absl::Seconds(5 + 5));  // grace + slack
  ASSERT_TRUE(load->Wait(absl::Seconds(60)).has_value());
  const std::string report = load->Stdout();
  EXPECT_THAT(report, HasSubstr("\"mismatches\":0")) << report;
  EXPECT_THAT(report, HasSubstr("\"timeouts\":0")) << report;
  EXPECT_THAT(server->FinalStats(), HasSubstr("active=0"));
  EXPECT_GT(server->FinalStat("shutdown_byes"), 0);
}

TEST(Reliability, PermissionDeniedOnLowPortIsOneClearLine) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to drop to an unprivileged user";
  // A world-readable copy of the binary (the build tree is root-only).
  char dir[] = "/tmp/echo-server-XXXXXX";
  ASSERT_NE(::mkdtemp(dir), nullptr);
  const std::string copy = absl::StrCat(dir, "/server");
  ASSERT_EQ(std::system(absl::StrCat("cp '", Runfile("server/server"), "' '", copy,
                                     "' && chmod 755 '", dir, "' '", copy, "'")
                            .c_str()),
            0);
  SubprocessOptions nobody;
  nobody.as_nobody = true;
  Subprocess server(copy, {"--port=80", "--host=127.0.0.1"}, nobody);
  const std::optional<int> code = server.Wait(absl::Seconds(30));
  EXPECT_EQ(std::system(absl::StrCat("rm -rf '", dir, "'").c_str()), 0);
  if (code == 126) GTEST_SKIP() << "cannot drop privileges here (user namespace?)";
  EXPECT_EQ(code, 1);
  EXPECT_THAT(server.Stderr(), HasSubstr("Permission denied"));
}

}  // namespace
}  // namespace tests
