// Open-loop load (client --load --rate) against the real server: the
// correction for coordinated omission is proven by pausing the server.
//
// A SIGSTOPped server answers nothing for the pause. A lock-step client
// then cannot send either, so a closed-loop latency figure shows the pause
// in at most one line per connection; the open-loop figure, measured from
// when each line was due, shows it in every line due during the pause.

#include <signal.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "tests/server_harness.h"

namespace tests {
namespace {

// The number after "key": in the client's one-line JSON report (NaN if absent).
double JsonNumber(const std::string& json, const std::string& key) {
  const std::string quoted = absl::StrCat("\"", key, "\":");
  const size_t at = json.find(quoted);
  if (at == std::string::npos) return std::nan("");
  const size_t start = at + quoted.size();
  double value = std::nan("");
  if (!absl::SimpleAtod(json.substr(start, json.find_first_of(",}", start) - start), &value)) {
    return std::nan("");
  }
  return value;
}

std::vector<std::string> LoadArgs(const ServerProcess& server, std::vector<std::string> more) {
  std::vector<std::string> args = {"--load", absl::StrCat("--port=", server.port()), "--json",
                                   "--progress=false"};
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

// Established TCP connections whose local port is `port` (the server's side),
// from /proc/net/tcp and tcp6.
int EstablishedTo(int port) {
  int count = 0;
  for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::ifstream in(table);
    for (std::string line; std::getline(in, line);) {
      std::istringstream fields(line);
      std::string slot, local, remote, state;
      fields >> slot >> local >> remote >> state;
      const size_t colon = local.rfind(':');
      if (colon == std::string::npos || state != "01") continue;
      if (std::strtol(local.c_str() + colon + 1, nullptr, 16) == port) ++count;
    }
  }
  return count;
}

TEST(OpenLoopTest, PauseShowsInCorrectedLatencyNotInServiceTime) {
  ServerProcess server({"--stats_interval_ms=0"});
  ASSERT_TRUE(server.ok());
  // 2000 lines/s over 4 lock-step connections for 3 s: 6000 lines, of which
  // ~600 fall due in the 300 ms pause.
  auto client = StartClient(LoadArgs(
      server, {"--rate=2000", "--duration_ms=3000", "--connections=4", "--max_in_flight=1"}));
  const absl::Time give_up = absl::Now() + absl::Seconds(10);
  while (EstablishedTo(server.port()) < 4 && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  absl::SleepFor(absl::Milliseconds(300));  // the schedules are running
  server.process().Signal(SIGSTOP);
  absl::SleepFor(absl::Milliseconds(300));
  server.process().Signal(SIGCONT);
  ASSERT_EQ(client->Wait(absl::Seconds(30)), 0) << client->Stderr();
  const std::string report = client->Stdout();
  SCOPED_TRACE(report);
  EXPECT_EQ(JsonNumber(report, "mismatches"), 0);
  EXPECT_EQ(JsonNumber(report, "timeouts"), 0);
  EXPECT_GT(JsonNumber(report, "round_trips"), 3000);
  // Every line due in the first 100 ms of the pause waited >= 200 ms: that
  // is 3% of the lines, so the corrected p99 and max both show the pause.
  EXPECT_GE(JsonNumber(report, "max_us"), 200000);
  EXPECT_GE(JsonNumber(report, "p99_us"), 200000);
  // From the actual send, only the one line each connection had in flight
  // at SIGSTOP (4 of ~6000, <0.1%) waited out the pause: p99 stays far below
  // it, while the service max does include it.
  EXPECT_LT(JsonNumber(report, "service_p99_us"), 100000);
  EXPECT_GE(JsonNumber(report, "service_max_us"), 150000);
}

TEST(OpenLoopTest, ModestRateIsReached) {
  ServerProcess server({"--stats_interval_ms=0"});
  ASSERT_TRUE(server.ok());
  const std::string histogram = TempPath("open_loop_histogram.txt");
  const ClientResult result = RunClient(
      LoadArgs(server, {"--rate=2000", "--duration_ms=2000", "--connections=8",
                        "--arrival=poisson", "--warmup_ms=200",
                        absl::StrCat("--histogram_out=", histogram)}));
  ASSERT_EQ(result.exit_code, 0) << result.err;
  SCOPED_TRACE(result.out);
  EXPECT_EQ(JsonNumber(result.out, "rate_requested"), 2000);
  EXPECT_GE(JsonNumber(result.out, "rtt_per_s"), 0.9 * 2000);
  EXPECT_EQ(JsonNumber(result.out, "mismatches"), 0);
  EXPECT_GT(JsonNumber(result.out, "generator_cpu_s"), 0);
  // The warm-up is left out: ~2 s of lines are counted (Poisson: 4000 +- 63),
  // not ~2.2 s (4400).
  EXPECT_LE(JsonNumber(result.out, "round_trips"), 4240);
  // The histogram file is HdrHistogram's percentile table, ending at 100%
  // with every counted round trip.
  std::ifstream in(histogram);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_EQ(text.str().rfind("       Value     Percentile TotalCount 1/(1-Percentile)\n\n", 0),
            0u);
  EXPECT_NE(text.str().find(absl::StrCat(
                " 1.000000000000 ",
                absl::StrFormat("%10d", static_cast<long long>(
                                            JsonNumber(result.out, "round_trips"))))),
            std::string::npos);
  EXPECT_NE(text.str().find("#[Mean    = "), std::string::npos);
}

TEST(OpenLoopTest, PipelinedConnectionsKeepTheRate) {
  ServerProcess server({"--stats_interval_ms=0"});
  ASSERT_TRUE(server.ok());
  const ClientResult result = RunClient(LoadArgs(
      server, {"--rate=2000", "--duration_ms=2000", "--warmup_ms=300", "--connections=2",
               "--max_in_flight=8",
               "--source_ips=127.0.0.2-127.0.0.3", "--connect_rate=100"}));
  ASSERT_EQ(result.exit_code, 0) << result.err;
  SCOPED_TRACE(result.out);
  EXPECT_GE(JsonNumber(result.out, "rtt_per_s"), 0.9 * 2000);
  EXPECT_EQ(JsonNumber(result.out, "mismatches"), 0);
  EXPECT_EQ(JsonNumber(result.out, "established"), 2);
}

TEST(OpenLoopTest, InterruptPrintsTheReportSoFar) {
  ServerProcess server({"--stats_interval_ms=0"});
  ASSERT_TRUE(server.ok());
  auto client =
      StartClient(LoadArgs(server, {"--rate=1000", "--duration_ms=60000", "--connections=2"}));
  absl::SleepFor(absl::Seconds(1));
  client->Signal(SIGINT);
  ASSERT_EQ(client->Wait(absl::Seconds(20)), 0) << client->Stderr();
  SCOPED_TRACE(client->Stdout());
  EXPECT_NE(client->Stdout().find("\"interrupted\":true"), std::string::npos);
  EXPECT_GT(JsonNumber(client->Stdout(), "round_trips"), 0);
  EXPECT_LT(JsonNumber(client->Stdout(), "elapsed_s"), 30);
}

TEST(OpenLoopTest, BadFlagsExitTwoWithAMessage) {
  ServerProcess server({"--stats_interval_ms=0"});
  ASSERT_TRUE(server.ok());
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--rate=-5", "--duration_ms=100"}, "--rate"},
      {{"--rate=100", "--requests=100"}, "--duration_ms"},
      {{"--rate=100", "--duration_ms=100", "--arrival=bursty"}, "--arrival"},
      {{"--rate=100", "--duration_ms=100", "--max_in_flight=0"}, "--max_in_flight"},
      {{"--rate=100", "--duration_ms=100", "--warmup_ms=-1"}, "--warmup_ms"},
      {{"--rate=100", "--duration_ms=100", "--connect_rate=-1"}, "--connect_rate"},
      {{"--rate=100", "--duration_ms=100", "--spin_us=-1"}, "--spin_us"},
      {{"--rate=100", "--duration_ms=100", "--source_ips=127.0.0.9-127.0.0.2"}, "--source_ips"},
      {{"--duration_ms=100", "--max_in_flight=4"}, "need --rate"},
      {{"--duration_ms=100", "--histogram_out=/nonexistent/dir/h.txt"}, "--histogram_out"},
  };
  for (const auto& [flags, message] : cases) {
    const ClientResult result = RunClient(LoadArgs(server, flags));
    EXPECT_EQ(result.exit_code, 2) << flags.back();
    EXPECT_NE(result.err.find(message), std::string::npos) << result.err;
  }
}

}  // namespace
}  // namespace tests
