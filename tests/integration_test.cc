// End-to-end tests of the real //server and //client binaries over loopback.
// Every scenario runs against both scheduling models (--model=event, the
// default, and --model=classic): apart from how many clients are served at
// once, they must be indistinguishable to clients.

#include <signal.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/fd_limit.h"
#include "common/protocol.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/server_harness.h"

namespace tests {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

const std::string kWelcome = "welcome to server.\r\n";

class IntegrationTest : public BothModels {
 protected:
  static std::vector<std::string> ClientArgs(const ServerProcess& s,
                                             std::vector<std::string> more = {}) {
    std::vector<std::string> args = {"--port_file=" + s.port_file(), "--timeout_ms=10000"};
    args.insert(args.end(), more.begin(), more.end());
    return args;
  }
};

TEST_P(IntegrationTest, WelcomeAndEchoThroughClient) {
  auto server = Start({});
  ClientResult r = RunClient(ClientArgs(*server, {"hello", "two words", ""}));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "welcome to server.\nok ...hello\nok ...two words\nok ...\n");
  EXPECT_EQ(server->Stop(), 0);
  EXPECT_EQ(server->FinalStat("lines"), 3);
}

TEST_P(IntegrationTest, ClientReadsLinesFromStdin) {
  auto server = Start({});
  ClientResult r = RunClient(ClientArgs(*server, {"--quiet"}), "first\nsecond\r\nlast-no-newline");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "ok ...first\nok ...second\nok ...last-no-newline\n");
}

TEST_P(IntegrationTest, TelnetStyleCrLfIsEchoedExactly) {
  auto server = Start({});
  RawClient c(server->port());
  ASSERT_TRUE(c.connected());
  EXPECT_EQ(c.ReadLine(), kWelcome);
  ASSERT_TRUE(c.Send("hello\r\n"));
  EXPECT_EQ(c.ReadLine(), "ok ...hello\r\n");
}

TEST_P(IntegrationTest, CustomWelcomeAndPrefix) {
  auto server = Start({"--welcome=hi there", "--reply_prefix=>> "});
  ClientResult r = RunClient(ClientArgs(*server, {"--expect_prefix=>> ", "x"}));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "hi there\n>> x\n");
  // A client expecting the default prefix reports the mismatch.
  r = RunClient(ClientArgs(*server, {"x"}));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("unexpected reply"));
}

TEST_P(IntegrationTest, ThreeTimesMoreClientsThanWorkersAllServed) {
  auto server = Start({"--workers=2", "--queue_capacity=16"});
  std::vector<std::unique_ptr<Subprocess>> clients;
  for (int i = 0; i < 6; ++i) {
    clients.push_back(StartClient(ClientArgs(
        *server, {"--quiet", absl::StrCat("client", i, "-a"), absl::StrCat("client", i, "-b")})));
  }
  for (int i = 0; i < 6; ++i) {
    ASSERT_EQ(clients[i]->Wait(absl::Seconds(60)), 0) << clients[i]->Stderr();
    EXPECT_EQ(clients[i]->Stdout(),
              absl::StrCat("ok ...client", i, "-a\nok ...client", i, "-b\n"));
  }
  EXPECT_EQ(server->Stop(), 0);
  EXPECT_EQ(server->FinalStat("rejected"), 0);
  EXPECT_EQ(server->FinalStat("lines"), 12);
}

// --workers=1 --queue_capacity=1: exactly two clients fit (one served, one
// waiting); the third is told "busy" and the client exits with code 3.
TEST_P(IntegrationTest, QueueFullRejectsExactlyTheExtraClient) {
  if (!classic()) GTEST_SKIP() << "event workers take every client at once; see MaxConnections";
  auto server = Start({"--workers=1", "--queue_capacity=1"});
  RawClient served(server->port());
  ASSERT_EQ(served.ReadLine(), kWelcome);  // owns the only worker
  RawClient waiting(server->port());       // N = workers + queue: accepted, queued
  ASSERT_TRUE(waiting.connected());
  ASSERT_TRUE(waiting.Quiet(absl::Milliseconds(200)));  // no welcome while queued
  ClientResult extra = RunClient(ClientArgs(*server, {"hello"}));  // N + 1
  EXPECT_EQ(extra.exit_code, 3) << extra.err;
  EXPECT_THAT(extra.err, HasSubstr("busy: server at capacity, try again later"));
  EXPECT_EQ(extra.out, "");
  // When the first client leaves, the waiting one is served.
  served.Close();
  EXPECT_EQ(waiting.ReadLine(), kWelcome);
  ASSERT_TRUE(waiting.Send("still here\n"));
  EXPECT_EQ(waiting.ReadLine(), "ok ...still here\n");
  waiting.Close();
  EXPECT_EQ(server->Stop(), 0);
  EXPECT_EQ(server->FinalStat("rejected_queue_full"), 1);
  EXPECT_EQ(server->FinalStat("accepted"), 3);
  EXPECT_EQ(server->FinalStat("queued_peak"), 1);
}

// --max_connections=2: exactly two clients are held; the third is told
// "busy" (exit code 3), and a slot frees when a client leaves.
TEST_P(IntegrationTest, MaxConnectionsRejectsExactlyTheExtraClient) {
  auto server = Start({"--max_connections=2", "--workers=1"});
  RawClient first(server->port());
  ASSERT_EQ(first.ReadLine(), kWelcome);
  RawClient second(server->port());
  if (classic()) {
    ASSERT_TRUE(second.Quiet(absl::Milliseconds(100)));  // held, in the queue
  } else {
    ASSERT_EQ(second.ReadLine(), kWelcome);  // served at once
  }
  ClientResult extra = RunClient(ClientArgs(*server, {"hello"}));
  EXPECT_EQ(extra.exit_code, 3) << extra.err;
  EXPECT_THAT(extra.err, HasSubstr("busy: server at capacity, try again later"));
  first.Close();
  if (classic()) {
    EXPECT_EQ(second.ReadLine(), kWelcome);
  }
  second.Close();
  // Slots free as sessions end; a retrying client gets in.
  int code = -1;
  for (int i = 0; i < 50 && code != 0; ++i) {
    code = RunClient(ClientArgs(*server, {"--quiet", "in"})).exit_code;
    if (code != 0) absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_EQ(code, 0);
  EXPECT_EQ(server->Stop(), 0);
  EXPECT_GE(server->FinalStat("rejected_max_connections"), 1);
  EXPECT_EQ(server->FinalStat("rejected_queue_full"), 0);
}

TEST_P(IntegrationTest, BlockPolicyMakesExtraClientsWaitInsteadOfFailing) {
  if (!classic()) GTEST_SKIP() << "event workers empty the queue at once";
  auto server = Start({"--workers=1", "--queue_capacity=1", "--overload_policy=block"});
  RawClient served(server->port());
  ASSERT_EQ(served.ReadLine(), kWelcome);
  RawClient queued(server->port());
  ASSERT_TRUE(queued.Quiet(absl::Milliseconds(100)));
  // The third waits in the kernel backlog: a short client timeout expires.
  ClientResult impatient = RunClient({"--port_file=" + server->port_file(), "--timeout_ms=300", "x"});
  EXPECT_EQ(impatient.exit_code, 4) << impatient.err;
  auto patient = StartClient(ClientArgs(*server, {"--quiet", "eventually"}));
  served.Close();
  EXPECT_EQ(queued.ReadLine(), kWelcome);
  queued.Close();
  ASSERT_EQ(patient->Wait(absl::Seconds(30)), 0) << patient->Stderr();
  EXPECT_EQ(patient->Stdout(), "ok ...eventually\n");
  EXPECT_EQ(server->Stop(), 0);
  EXPECT_EQ(server->FinalStat("rejected"), 0);
}

TEST_P(IntegrationTest, IdleClientIsToldAndDisconnected) {
  auto server = Start({"--idle_timeout_ms=200"});
  RawClient c(server->port());
  ASSERT_EQ(c.ReadLine(), kWelcome);
  EXPECT_EQ(c.ReadAll(), "bye: idle timeout\r\n");  // then EOF
  // The client binary reports it as an error.
  ClientResult r = RunClient(ClientArgs(*server), std::nullopt);
  EXPECT_EQ(r.exit_code, 0);  // empty stdin: nothing to send, clean exit
  EXPECT_EQ(server->Stop(), 0);
  EXPECT_GE(server->FinalStat("idle_timeouts"), 1);
}

TEST_P(IntegrationTest, LongLineGetsErrorAndClose) {
  auto server = Start({"--max_line_bytes=10"});
  RawClient c(server->port());
  ASSERT_EQ(c.ReadLine(), kWelcome);
  ASSERT_TRUE(c.Send("short\n" + std::string(100, 'x')));
  EXPECT_EQ(c.ReadAll(), "ok ...short\nerror: line too long\r\n");
  ClientResult r = RunClient(ClientArgs(*server, {std::string(11, 'y')}));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("error: line too long"));
  r = RunClient(ClientArgs(*server, {"--quiet", std::string(10, 'z')}));
  EXPECT_EQ(r.exit_code, 0) << r.err;  // exactly the limit is fine
}

TEST_P(IntegrationTest, BinaryPayloadIsEchoedByteForByte) {
  auto server = Start({});
  RawClient c(server->port());
  ASSERT_EQ(c.ReadLine(), kWelcome);
  std::string payload;
  for (int i = 0; i < 256; ++i) {
    if (i != '\n') payload.push_back(static_cast<char>(i));
  }
  payload.push_back('\n');
  ASSERT_TRUE(c.Send(payload));
  EXPECT_EQ(c.ReadLine(), "ok ..." + payload);
}

TEST_P(IntegrationTest, ClientDisconnectingMidLineHarmsNobody) {
  auto server = Start({"--workers=1"});
  {
    RawClient c(server->port());
    ASSERT_EQ(c.ReadLine(), kWelcome);
    ASSERT_TRUE(c.Send("half a li"));
  }
  {
    RawClient c(server->port());
    ASSERT_EQ(c.ReadLine(), kWelcome);
    ASSERT_TRUE(c.Send("abrupt"));
    c.Reset();  // RST mid-line
  }
  ClientResult r = RunClient(ClientArgs(*server, {"--quiet", "next"}));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "ok ...next\n");
  EXPECT_EQ(server->Stop(), 0);
  EXPECT_EQ(server->FinalStat("lines"), 1);  // partial lines were never echoed
}

TEST_P(IntegrationTest, HalfCloseStillGetsEveryReply) {
  auto server = Start({});
  RawClient c(server->port());
  ASSERT_EQ(c.ReadLine(), kWelcome);
  ASSERT_TRUE(c.Send("a\nb\nc\n"));
  c.ShutdownWrite();
  EXPECT_EQ(c.ReadAll(), "ok ...a\nok ...b\nok ...c\n");
}

TEST_P(IntegrationTest, SigtermSaysByeToEveryoneAndExitsZero) {
  auto server = Start({"--workers=2", "--queue_capacity=4", "--shutdown_grace_ms=3000"});
  std::vector<std::unique_ptr<RawClient>> running;
  for (int i = 0; i < 2; ++i) {
    running.push_back(std::make_unique<RawClient>(server->port()));
    ASSERT_EQ(running.back()->ReadLine(), kWelcome);
  }
  std::unique_ptr<RawClient> waiting;
  if (classic()) {  // the event model simply serves the third
    waiting = std::make_unique<RawClient>(server->port());
    ASSERT_TRUE(waiting->Quiet(absl::Milliseconds(100)));
  }
  ASSERT_TRUE(running[0]->Send("in flight\n"));
  ASSERT_EQ(running[0]->ReadLine(), "ok ...in flight\n");
  const absl::Time start = absl::Now();
  server->process().Signal(SIGTERM);
  for (auto& c : running) EXPECT_EQ(c->ReadAll(), "bye: server shutting down\r\n");
  if (waiting) {
    EXPECT_EQ(waiting->ReadAll(), "bye: server shutting down\r\n");
  }
  EXPECT_EQ(server->process().Wait(absl::Seconds(30)), 0);
  EXPECT_LT(absl::Now() - start, absl::Seconds(3) + absl::Seconds(5));  // grace + slack
  EXPECT_EQ(server->FinalStat("active"), 0);
}

TEST_P(IntegrationTest, RawFramingIsPlainEcho) {
  auto server = Start({"--framing=raw"});
  ClientResult r = RunClient(ClientArgs(*server, {"--raw", "bytes back", "as sent"}));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "bytes back\nas sent\n");
  RawClient c(server->port());
  ASSERT_TRUE(c.Send("no newline"));
  ASSERT_TRUE(c.Quiet(absl::Milliseconds(1)) || true);
  c.ShutdownWrite();
  EXPECT_EQ(c.ReadAll(), "no newline");
}

// Behind a load balancer (--proxy_protocol): a connection starts with the
// PROXY header; the welcome follows it, the client's address is the one in
// the header, and a connection without a valid header in time is closed
// without a word and counted by reason.
TEST_P(IntegrationTest, ProxyProtocolHeaderFirstThenTheConversation) {
  auto server = Start({"--proxy_protocol=any", "--proxy_header_timeout_ms=300", "--v=1"});
  RawClient via_proxy(server->port());
  ASSERT_TRUE(via_proxy.Send("PROXY TCP4 203.0.113.7 192.0.2.1 51234 8888\r\nhello\n"));
  EXPECT_EQ(via_proxy.ReadLine(), kWelcome);
  EXPECT_EQ(via_proxy.ReadLine(), "ok ...hello\n");
  via_proxy.Close();

  RawClient direct(server->port());  // no header: refused cleanly
  ASSERT_TRUE(direct.Send("hello\n"));
  EXPECT_EQ(direct.ReadAll(), "");
  RawClient garbled(server->port());
  ASSERT_TRUE(garbled.Send("PROXY TCP4 1.2.3.4 5.6.7.8 99999 1\r\n"));
  EXPECT_EQ(garbled.ReadAll(), "");
  RawClient silent(server->port());  // never sends its header
  EXPECT_EQ(silent.ReadAll(), "");

  EXPECT_EQ(server->Stop(), 0);
  EXPECT_EQ(server->FinalStat("rejected_proxy_missing"), 1);
  EXPECT_EQ(server->FinalStat("rejected_proxy_malformed"), 1);
  EXPECT_EQ(server->FinalStat("rejected_proxy_timeout"), 1);
  EXPECT_EQ(server->FinalStat("lines"), 1);
  EXPECT_THAT(server->process().Stderr(), HasSubstr("203.0.113.7:51234 (via 127.0.0.1:"));
}

TEST_P(IntegrationTest, Ipv6LoopbackAndDualStack) {
  auto server = Start({"--host=::"});
  RawClient v6(server->port(), "::1");
  if (!v6.connected()) GTEST_SKIP() << "no IPv6 loopback here";
  EXPECT_EQ(v6.ReadLine(), kWelcome);
  RawClient v4(server->port(), "127.0.0.1");
  EXPECT_EQ(v4.ReadLine(), kWelcome);
}

INSTANTIATE_FOR_BOTH_MODELS(IntegrationTest);

// What a new user sees: `bazel run //server` with default flags, then a
// thousand telnet-style clients at once. Every one is welcomed and echoed.
TEST(DefaultFlags, ServeAThousandClientsAtOnce) {
  common::RaiseFdLimitToMax();
  ServerProcess server({"--stats_interval_ms=0"});
  ASSERT_TRUE(server.ok());
  constexpr int kClients = 1000;
  std::vector<std::unique_ptr<RawClient>> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.push_back(std::make_unique<RawClient>(server.port()));
    ASSERT_TRUE(clients.back()->connected()) << i;
  }
  for (auto& c : clients) ASSERT_EQ(c->ReadLine(absl::Seconds(30)), kWelcome);
  for (int i = 0; i < kClients; ++i) ASSERT_TRUE(clients[i]->Send(absl::StrCat("n", i, "\n")));
  for (int i = 0; i < kClients; ++i) {
    ASSERT_EQ(clients[i]->ReadLine(absl::Seconds(30)), absl::StrCat("ok ...n", i, "\n"));
  }
  clients.clear();
  EXPECT_EQ(server.Stop(), 0);
  EXPECT_EQ(server.FinalStat("lines"), kClients);
  EXPECT_EQ(server.FinalStat("rejected"), 0);
}

// Start-up errors: one clear line on stderr, a non-zero exit, nothing left.
struct BadStart {
  std::vector<std::string> flags;
  int exit_code;
  std::string message;
};

class BadStartTest : public ::testing::TestWithParam<BadStart> {};

TEST_P(BadStartTest, RefusesWithOneLine) {
  const BadStart& c = GetParam();
  Subprocess server(Runfile("server/server"), c.flags);
  EXPECT_EQ(server.Wait(absl::Seconds(30)), c.exit_code);
  const std::string err = server.Stderr();
  EXPECT_THAT(err, HasSubstr(c.message));
}

INSTANTIATE_TEST_SUITE_P(
    Flags, BadStartTest,
    ::testing::Values(BadStart{{"--workers=-1"}, 2, "--workers must be between 0"},
                      BadStart{{"--model=parked"}, 2, "--model must be 'event' or 'classic'"},
                      BadStart{{"--io=kqueue"}, 2, "--io must be 'epoll' or 'io_uring'"},
                      BadStart{{"--model=classic", "--io=io_uring"}, 2,
                               "--io=io_uring needs --model=event"},
                      BadStart{{"--max_connections=-1"}, 2, "--max_connections"},
                      BadStart{{"--max_output_bytes=10"}, 2, "--max_output_bytes"},
                      BadStart{{"--proxy_protocol=v3"}, 2, "--proxy_protocol must be"},
                      BadStart{{"--queue_capacity=-3"}, 2, "--queue_capacity"},
                      BadStart{{"--overload_policy=drop"}, 2, "--overload_policy must be"},
                      BadStart{{"--framing=json"}, 2, "--framing must be"},
                      BadStart{{"--max_line_bytes=0"}, 2, "--max_line_bytes"},
                      BadStart{{"--workers=many"}, 2, "workers"},
                      BadStart{{"--no_such_flag=1"}, 2, "no_such_flag"},
                      BadStart{{"positional"}, 2, "unexpected argument"},
                      // An address of no local interface (TEST-NET-1): bind fails.
                      BadStart{{"--host=192.0.2.1"}, 1, "bind 192.0.2.1:8888: Cannot assign"},
                      BadStart{{"--port=0", "--port_file=/nonexistent-dir/p"}, 1,
                               "--port_file /nonexistent-dir/p"}));

// Where io_uring is refused (a container's seccomp profile, here a filter
// installed by tests/deny_io_uring before exec), --io=io_uring logs one line
// naming the reason and serves with epoll.
TEST(IoUring, RefusedBySeccompServesWithEpoll) {
  ServerProcess server({"--io=io_uring", "--stats_interval_ms=0"}, {}, "tests/deny_io_uring");
  ASSERT_TRUE(server.ok()) << server.process().Stderr();
  RawClient c(server.port());
  ASSERT_TRUE(c.connected());
  EXPECT_EQ(c.ReadLine(), kWelcome);
  ASSERT_TRUE(c.Send("still served\n"));
  EXPECT_EQ(c.ReadLine(), "ok ...still served\n");
  c.Close();
  EXPECT_EQ(server.Stop(), 0);
  const std::string log = server.process().Stderr();
  EXPECT_THAT(log, HasSubstr("--io=io_uring: io_uring is not available (io_uring_setup: "
                             "Operation not permitted); serving with epoll"));
  EXPECT_THAT(log, HasSubstr(" io=epoll "));
}

// Where the kernel allows it, the listening line says io_uring is in use.
TEST(IoUring, UsedWhereAllowed) {
  ServerProcess server({"--io=io_uring", "--stats_interval_ms=0"});
  ASSERT_TRUE(server.ok()) << server.process().Stderr();
  EXPECT_EQ(server.Stop(), 0);
  const std::string log = server.process().Stderr();
  EXPECT_THAT(log, HasSubstr(" io=io_uring "));
  EXPECT_THAT(log, ::testing::Not(HasSubstr("not available")));
}

TEST(BadStart, PortInUse) {
  ServerProcess first({"--stats_interval_ms=0"});
  ASSERT_TRUE(first.ok());
  Subprocess second(Runfile("server/server"), {absl::StrCat("--port=", first.port())});
  EXPECT_EQ(second.Wait(absl::Seconds(30)), 1);
  EXPECT_THAT(second.Stderr(), HasSubstr("Address already in use"));
}

TEST(ClientCli, UsageAndConnectionErrors) {
  ClientResult r = RunClient({"--timeout_ms=0"});
  EXPECT_EQ(r.exit_code, 2);
  r = RunClient({"--no_such_flag"});
  EXPECT_EQ(r.exit_code, 2);
  r = RunClient({"--load", "--connections=0", "--duration_ms=10"});
  EXPECT_EQ(r.exit_code, 2);
  // Nothing listens on port 1 on loopback.
  r = RunClient({"--port=1", "hello"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("Connection refused"));
}

}  // namespace
}  // namespace tests
