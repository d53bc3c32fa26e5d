// Operating the real server binary with the real tools: its metrics endpoint
// scraped directly and linted by promtool, then scraped by a real Prometheus
// server and read back through Prometheus's query API; the health and
// readiness probes through a drain; systemd socket activation through
// systemd-socket-activate. All on loopback, every wait bounded.

#include <signal.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/port_file.h"
#include "common/socket.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/server_harness.h"

namespace tests {
namespace {

using ::testing::HasSubstr;

const std::string kWelcome = "welcome to server.\r\n";

// The value of an unlabelled (or exactly labelled) sample in an exposition,
// e.g. Sample(text, "echo_server_lines_total"); -1 if absent.
double Sample(const std::string& exposition, const std::string& series) {
  const std::string key = "\n" + series + " ";
  const size_t at = exposition.find(key);
  if (at == std::string::npos) return -1;
  const size_t start = at + key.size();
  double value = -1;
  if (!absl::SimpleAtod(exposition.substr(start, exposition.find('\n', start) - start), &value)) {
    return -1;
  }
  return value;
}

class Operations : public BothModels {
 protected:
  // Starts a server with the metrics endpoint on a free port.
  std::unique_ptr<ServerProcess> StartWithMetrics(std::vector<std::string> flags = {}) {
    metrics_port_file_ = TempPath(absl::StrCat("metrics", ::getpid(), "_", ++count_, ".port"));
    std::remove(metrics_port_file_.c_str());
    flags.push_back("--metrics_port_file=" + metrics_port_file_);
    auto server = Start(flags);
    auto port = common::WaitForPortFile(metrics_port_file_, absl::Now() + absl::Seconds(10),
                                        [] { return true; });
    metrics_port_ = port.ok() ? *port : -1;
    EXPECT_GT(metrics_port_, 0);
    return server;
  }

  static void Converse(const ServerProcess& server, int lines) {
    RawClient c(server.port());
    ASSERT_EQ(c.ReadLine(), kWelcome);
    for (int i = 0; i < lines; ++i) {
      ASSERT_TRUE(c.Send(absl::StrCat("line ", i, "\n")));
      ASSERT_EQ(c.ReadLine(), absl::StrCat("ok ...line ", i, "\n"));
    }
  }

  std::string metrics_port_file_;
  int metrics_port_ = -1;
  int count_ = 0;
};

TEST_P(Operations, MetricsMoveWithTrafficAndPassPromtool) {
  auto server = StartWithMetrics();
  const HttpResponse before = HttpGet(metrics_port_, "/metrics");
  ASSERT_EQ(before.status, 200);
  EXPECT_EQ(Sample(before.body, "echo_server_lines_total"), 0);
  for (int client = 0; client < 3; ++client) Converse(*server, 2);  // 3 sessions, 6 lines
  // The third session ends when its client's close reaches the server.
  std::string text;
  for (int i = 0; i < 100; ++i) {
    text = HttpGet(metrics_port_, "/metrics").body;
    if (Sample(text, "echo_server_session_duration_seconds_count") == 3) break;
    absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_EQ(Sample(text, "echo_server_connections_accepted_total"), 3);
  EXPECT_EQ(Sample(text, "echo_server_lines_total"), 6);
  EXPECT_EQ(Sample(text, "echo_server_bytes_total"), 6 * 7);  // "line N\n"
  EXPECT_EQ(Sample(text, "echo_server_sessions_completed_total"), 3);
  EXPECT_EQ(Sample(text, "echo_server_session_duration_seconds_count"), 3);
  EXPECT_EQ(Sample(text, "echo_server_queue_wait_seconds_count"), 3);
  EXPECT_EQ(Sample(text, "echo_server_queue_wait_seconds_bucket{le=\"+Inf\"}"), 3);
  EXPECT_EQ(Sample(text, "echo_server_sessions_active"), 0);
  EXPECT_EQ(Sample(text, "echo_server_connections_rejected_total{reason=\"queue_full\"}"), 0);
  EXPECT_GT(Sample(text, "echo_server_workers"), 0);
  EXPECT_GT(Sample(text, "process_resident_memory_bytes"), 0);
  EXPECT_GT(Sample(text, "process_open_fds"), 0);
  EXPECT_GT(Sample(text, "process_start_time_seconds"), 0);
  EXPECT_GE(Sample(text, "process_cpu_seconds_total"), 0);
  // Prometheus's own linter accepts the exposition as it is served.
  SubprocessOptions stdin_text;
  stdin_text.stdin_data = text;
  Subprocess promtool("/usr/bin/promtool", {"check", "metrics"}, stdin_text);
  EXPECT_EQ(promtool.Wait(absl::Seconds(30)), 0) << promtool.Stdout() << promtool.Stderr();
  EXPECT_EQ(server->Stop(), 0);
}

// SIGTERM with --drain_delay_ms: /readyz turns 503 at once while the server
// keeps serving, so a balancer stops sending clients before the listener
// closes; /healthz stays 200 (the process is fine, just leaving).
TEST_P(Operations, ReadinessDropsAtSigtermWhileTheServerStillServes) {
  auto server = StartWithMetrics({"--drain_delay_ms=3000"});
  EXPECT_EQ(HttpGet(metrics_port_, "/readyz").status, 200);
  EXPECT_EQ(HttpGet(metrics_port_, "/healthz").status, 200);
  server->process().Signal(SIGTERM);
  HttpResponse ready;
  for (int i = 0; i < 100; ++i) {
    ready = HttpGet(metrics_port_, "/readyz");
    if (ready.status == 503) break;
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_EQ(ready.status, 503);
  EXPECT_EQ(ready.body, "draining\n");
  EXPECT_EQ(HttpGet(metrics_port_, "/healthz").status, 200);
  Converse(*server, 1);  // still accepting and serving during the drain
  EXPECT_EQ(server->process().Wait(absl::Seconds(30)), 0);
}

// Connections to the metrics port that send nothing must not keep the probes
// from answering (a liveness probe that times out gets a healthy server
// killed); tests/metrics_port_test.cc holds a thousand of them.
TEST_P(Operations, IdleConnectionsToTheMetricsPortDoNotBlockTheProbes) {
  auto server = StartWithMetrics();
  std::vector<std::unique_ptr<RawClient>> idle;
  for (int i = 0; i < 6; ++i) idle.push_back(std::make_unique<RawClient>(metrics_port_));
  absl::SleepFor(absl::Milliseconds(100));
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(HttpGet(metrics_port_, "/healthz").status, 200);
    EXPECT_EQ(HttpGet(metrics_port_, "/readyz").status, 200);
  }
  idle.clear();
  EXPECT_EQ(server->Stop(), 0);
}

INSTANTIATE_FOR_BOTH_MODELS(Operations);

// A real Prometheus scrapes the server every second; the value of
// echo_server_lines_total read back through its HTTP query API matches the
// lines sent.
TEST(RealPrometheus, ScrapesTheServerAndAnswersQueries) {
  ServerProcess server({"--stats_interval_ms=0", "--metrics_port_file=" +
                                                     TempPath("prometheus_target.port")});
  ASSERT_TRUE(server.ok());
  auto metrics_port = common::WaitForPortFile(TempPath("prometheus_target.port"),
                                              absl::Now() + absl::Seconds(10), [] { return true; });
  ASSERT_TRUE(metrics_port.ok());
  {
    RawClient c(server.port());
    ASSERT_EQ(c.ReadLine(), kWelcome);
    for (int i = 0; i < 5; ++i) {
      ASSERT_TRUE(c.Send("hello\n"));
      ASSERT_EQ(c.ReadLine(), "ok ...hello\n");
    }
  }
  const std::string config = TempPath("prometheus.yml");
  {
    std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(config.c_str(), "w"), std::fclose);
    ASSERT_NE(f, nullptr);
    std::fputs(absl::StrCat("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                            "scrape_configs:\n  - job_name: echo\n    static_configs:\n"
                            "      - targets: ['127.0.0.1:",
                            *metrics_port, "']\n")
                   .c_str(),
               f.get());
  }
  // Prometheus cannot report a port it picked: take a free one, and try
  // again in the unlikely case someone took it in between.
  std::unique_ptr<Subprocess> prometheus;
  int port = -1;
  for (int attempt = 0; attempt < 3; ++attempt) {
    port = FreePort();
    prometheus = std::make_unique<Subprocess>(
        "/usr/bin/prometheus",
        std::vector<std::string>{"--config.file=" + config,
                                 absl::StrCat("--web.listen-address=127.0.0.1:", port),
                                 "--storage.tsdb.path=" + TempPath(absl::StrCat("tsdb", attempt)),
                                 "--log.level=warn"});
    absl::SleepFor(absl::Milliseconds(500));
    if (prometheus->Running()) break;
  }
  ASSERT_TRUE(prometheus->Running()) << prometheus->Stderr();
  double value = -1;
  std::string last;
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (value != 5 && absl::Now() < deadline) {
    last = HttpGet(port, "/api/v1/query?query=echo_server_lines_total").body;
    // {"status":"success","data":{"resultType":"vector","result":[{"metric":{...},
    //  "value":[1732800000.123,"5"]}]}}
    const size_t at = last.find("\"value\":[");
    if (at != std::string::npos) {
      const size_t quote = last.find('"', last.find(',', at) + 1);
      const size_t end = last.find('"', quote + 1);
      if (quote != std::string::npos && end != std::string::npos) {
        (void)absl::SimpleAtod(last.substr(quote + 1, end - quote - 1), &value);
      }
    }
    if (value != 5) absl::SleepFor(absl::Milliseconds(250));
  }
  EXPECT_EQ(value, 5) << "last answer: " << last;
  prometheus->Signal(SIGTERM);
  prometheus->Wait(absl::Seconds(30));
  EXPECT_EQ(server.Stop(), 0);
}

// systemd socket activation without systemd: systemd-socket-activate binds
// the port, and on the first connection execs the server with the listening
// socket as descriptor 3 (LISTEN_FDS=1, LISTEN_PID=its pid).
TEST(SocketActivation, ServesOnTheSocketSystemdPasses) {
  const int port = FreePort();
  ASSERT_GT(port, 0);
  const std::string port_file = TempPath("activated.port");
  std::remove(port_file.c_str());
  // It passes the server only the variables it is told to (-E): the
  // sanitizers' options, when this is a sanitized build.
  Subprocess activator("/usr/bin/systemd-socket-activate",
                       {"-l", absl::StrCat("127.0.0.1:", port), "-E", "ASAN_OPTIONS", "-E",
                        "UBSAN_OPTIONS", "-E", "TSAN_OPTIONS", Runfile("server/server"),
                        "--port=1", "--port_file=" + port_file, "--stats_interval_ms=0"});
  // The first client triggers the exec; it waits in the backlog meanwhile.
  std::unique_ptr<RawClient> first;
  for (int i = 0; i < 100 && (first == nullptr || !first->connected()); ++i) {
    first = std::make_unique<RawClient>(port);
    if (!first->connected()) absl::SleepFor(absl::Milliseconds(50));
  }
  ASSERT_TRUE(first->connected()) << activator.Stderr();
  EXPECT_EQ(first->ReadLine(), kWelcome);
  auto written = common::WaitForPortFile(port_file, absl::Now() + absl::Seconds(10),
                                         [&] { return activator.Running(); });
  ASSERT_TRUE(written.ok());
  EXPECT_EQ(*written, port);  // the inherited socket's port, not --port=1
  ASSERT_TRUE(first->Send("activated\n"));
  EXPECT_EQ(first->ReadLine(), "ok ...activated\n");
  activator.Signal(SIGTERM);
  EXPECT_EQ(activator.Wait(absl::Seconds(30)), 0) << activator.Stderr();
  EXPECT_THAT(activator.Stderr(), HasSubstr("serving on the listening socket passed by systemd"));
}

TEST(MetricsStartUp, PortInUseIsOneErrorLine) {
  auto taken = common::Listen("127.0.0.1", 0, 1);
  ASSERT_TRUE(taken.ok());
  const int port = *common::BoundPort(*taken);
  Subprocess server(Runfile("server/server"),
                    {"--port=0", absl::StrCat("--metrics_port=", port), "--stats_interval_ms=0"});
  EXPECT_EQ(server.Wait(absl::Seconds(30)), 1);
  EXPECT_THAT(server.Stderr(), HasSubstr("error: --metrics_port"));
  EXPECT_THAT(server.Stderr(), HasSubstr("in use"));
}

}  // namespace
}  // namespace tests
