// Faults, floods and hostile clients against the real server binary, in both
// scheduling models: it keeps serving the clients it accepted, answers every
// line it received, never crashes, never leaks and never mixes one client's
// data with another's. Every wait is bounded; no assertion depends on how
// fast the machine is, except the CPU-time bound of the EMFILE test, which is
// generous by orders of magnitude (a busy spin would burn the whole measured
// interval). The attacks of the outside review are in hostile_clients_test.cc.

#include <signal.h>
#include <sys/resource.h>
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

using Reliability = BothModels;

// 40 simultaneous clients against room for 4 (classic: 2 workers + 2 queue
// slots; event: --max_connections=4): every extra client is told "busy",
// none hangs, and service goes on.
TEST_P(Reliability, FloodGetsBusyAndServerStaysUp) {
  auto server = Start(classic() ? std::vector<std::string>{"--workers=2", "--queue_capacity=2"}
                                : std::vector<std::string>{"--max_connections=4"});
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
  if (classic()) {
    // At most workers + queue fit (fewer if the burst outran the workers'
    // first pops); every other client was told "busy".
    EXPECT_EQ(welcomed, 2);
    EXPECT_LE(waiting, 2);
    EXPECT_GE(busy, 36);
  } else {
    EXPECT_EQ(welcomed, 4);  // every held client is served at once
    EXPECT_EQ(waiting, 0);
    EXPECT_EQ(busy, 36);
  }
  EXPECT_EQ(welcomed + waiting + busy, 40);
  clients.clear();
  // Classic: the closed clients hold both workers and the queue until their
  // sessions have seen the close, and a client arriving before that is told
  // "busy". The server must be back to serving soon after, not at once.
  bool served = ServesOneMore(*server);
  for (absl::Time end = absl::Now() + absl::Seconds(10); !served && absl::Now() < end;) {
    absl::SleepFor(absl::Milliseconds(100));
    served = ServesOneMore(*server);
  }
  EXPECT_TRUE(served);
  EXPECT_EQ(server->Stop(), 0);
  EXPECT_GE(server->FinalStat("rejected"), 30);
  EXPECT_LE(server->FinalStat("queued_peak"), classic() ? 2 : 4);
  EXPECT_LT(server->process().PeakRssBytes(), rss_before + (64 << 20));
}

TEST_P(Reliability, FloodUnderBlockWaitsAndRecovers) {
  if (!classic()) GTEST_SKIP() << "event workers empty the queue at once: nothing to block on";
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
  EXPECT_EQ(server->FinalStat("rejected"), 0);
}

TEST_P(Reliability, OutOfFileDescriptorsNoSpinAndRecovers) {
  SubprocessOptions low_fds;
  low_fds.rlimits[RLIMIT_NOFILE] = 64;
  // A session cap above the descriptor table, so the table itself runs out.
  auto server = Start({"--workers=4", "--queue_capacity=256", "--idle_timeout_ms=0",
                       "--max_connections=1000"},
                      low_fds);
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
  EXPECT_GE(server->FinalStat("rejected_no_descriptors"), 1);
  const std::string log = server->process().Stderr();
  size_t warnings = 0;
  for (size_t at = log.find("turning new clients away"); at != std::string::npos;
       at = log.find("turning new clients away", at + 1)) {
    ++warnings;
  }
  EXPECT_EQ(static_cast<long long>(warnings), server->FinalStat("emfile_episodes"));
}

// Classic: a silent client and a trickler hold both workers only until the
// idle timeout, then the queued client is served. Event: the good client is
// served at once; the idle timeout still ends the other two.
TEST_P(Reliability, SlowlorisCannotOutstayTheIdleTimeout) {
  auto server = Start({"--workers=2", "--queue_capacity=8", "--idle_timeout_ms=400"});
  RawClient silent(server->port());
  RawClient trickler(server->port());
  ASSERT_EQ(silent.ReadLine(), kWelcome);
  ASSERT_EQ(trickler.ReadLine(), kWelcome);
  auto good = StartClient({"--port_file=" + server->port_file(), "--timeout_ms=20000", "--quiet",
                           "served at last"});
  // The trickler sends a byte every 100 ms, never finishing a line.
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

TEST_P(Reliability, ClientThatNeverReadsIsDroppedAndMemoryStaysFlat) {
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
  // The write timeout ends the session (classic: it frees the worker).
  EXPECT_TRUE(ServesOneMore(*server));
  // A sanitized server's RSS is mostly the sanitizer's (ASan's quarantine
  // keeps every freed reply buffer), so the figure means something only here.
  if (!kSanitized) {
    EXPECT_LT(server->process().PeakRssBytes(), rss_before + (16 << 20))
        << "unread replies must not pile up in the server (sent " << sent << " bytes)";
  }
  for (int i = 0; i < 200 && !hog.ClosedByServer(); ++i) absl::SleepFor(absl::Milliseconds(50));
  EXPECT_TRUE(hog.ClosedByServer());
  EXPECT_EQ(server->Stop(), 0);
  EXPECT_EQ(server->FinalStat("errors_write_timeout"), 1);
}

TEST_P(Reliability, KilledClientsAndResetsNeverHurtTheServer) {
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
  EXPECT_EQ(server->FinalStat("active"), 0);
  EXPECT_EQ(server->FinalStat("open"), 0);
}

// A stall of the whole server longer than the idle timeout (here SIGSTOP;
// on a loaded machine, a process not scheduled for seconds): lines that
// arrived meanwhile are answered when it runs again, not met with the idle
// timeout's closing line. On io_uring they may still be kernel task work
// when the first wait after the stall returns, more of it than one wait
// runs; the loop must take it all before it acts on deadlines.
TEST_P(Reliability, LinesThatArrivedDuringAStallAreAnsweredNotTimedOut) {
  auto server = Start({"--workers=64", "--idle_timeout_ms=1000"});
  std::vector<std::unique_ptr<RawClient>> clients;
  for (int i = 0; i < 64; ++i) {
    clients.push_back(std::make_unique<RawClient>(server->port()));
    ASSERT_EQ(clients.back()->ReadLine(), kWelcome);
    ASSERT_TRUE(clients.back()->Send("hi\n"));
    ASSERT_EQ(clients.back()->ReadLine(), "ok ...hi\n");
  }
  server->process().Signal(SIGSTOP);
  for (size_t i = 0; i < clients.size(); ++i) {
    ASSERT_TRUE(clients[i]->Send(absl::StrCat("line ", i, "\n")));
  }
  absl::SleepFor(absl::Milliseconds(1500));  // past every session's idle deadline
  server->process().Signal(SIGCONT);
  for (size_t i = 0; i < clients.size(); ++i) {
    EXPECT_EQ(clients[i]->ReadLine(), absl::StrCat("ok ...line ", i, "\n")) << "client " << i;
  }
  EXPECT_EQ(server->Stop(), 0);
}

TEST_P(Reliability, SigtermUnderLoadLosesNoReceivedLine) {
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
  EXPECT_EQ(server->FinalStat("active"), 0);
  EXPECT_GT(server->FinalStat("shutdown_byes"), 0);
}

INSTANTIATE_FOR_BOTH_MODELS(Reliability);

TEST(StartUp, PermissionDeniedOnLowPortIsOneClearLine) {
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
