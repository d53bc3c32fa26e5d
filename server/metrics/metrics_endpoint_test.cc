#include "server/metrics/metrics_endpoint.h"

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/socket.h"
#include "common/subprocess.h"
#include "gtest/gtest.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "server/metrics/metric_families.h"
#include "server/metrics/process_metrics.h"

namespace server {
namespace {

// Stands in for the server's own counters (server/stats.h): plain atomics
// that the serving threads bump and nobody registers anywhere.
struct EchoCounters {
  std::atomic<int64_t> accepted{0};
  std::atomic<int64_t> active{0};
  std::atomic<int64_t> closed_idle{0};
  std::atomic<int64_t> closed_error{0};
};

// The owner's custom Collectable: reads the counters at scrape time and
// builds the families there, so serving a client costs no more than the
// atomic increment it already does.
class EchoCountersCollectable : public prometheus::Collectable {
 public:
  explicit EchoCountersCollectable(const EchoCounters* counters) : counters_(counters) {}

  std::vector<prometheus::MetricFamily> Collect() const override {
    auto read = [](const std::atomic<int64_t>& c) {
      return static_cast<double>(c.load(std::memory_order_relaxed));
    };
    prometheus::MetricFamily closed =
        CounterFamily("echo_sessions_closed_total", "Sessions the server ended, by reason.");
    AddSample(closed, {{"reason", "idle_timeout"}}, read(counters_->closed_idle));
    AddSample(closed, {{"reason", "error"}}, read(counters_->closed_error));
    return {CounterFamily("echo_connections_accepted_total", "Connections accepted.",
                          read(counters_->accepted)),
            GaugeFamily("echo_active_sessions", "Sessions being served now.",
                        read(counters_->active)),
            std::move(closed)};
  }

 private:
  const EchoCounters* counters_;
};

struct HttpResponse {
  int status = 0;
  std::string headers;
  std::string body;
};

// One HTTP/1.1 request over a fresh loopback connection, read to EOF.
HttpResponse Request(const std::string& host, int port, const std::string& method,
                     const std::string& path, const std::string& extra_headers = "") {
  HttpResponse response;
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  absl::StatusOr<common::UniqueFd> socket = common::Connect(host, port, absl::Seconds(10));
  EXPECT_TRUE(socket.ok()) << socket.status();
  if (!socket.ok()) return response;
  const std::string request = absl::StrCat(method, " ", path, " HTTP/1.1\r\nHost: ", host,
                                           "\r\nConnection: close\r\n", extra_headers, "\r\n");
  EXPECT_TRUE(common::SendAll(*socket, request, deadline).ok());
  std::string raw;
  char buffer[4096];
  for (;;) {
    absl::StatusOr<size_t> n = common::RecvSome(*socket, buffer, sizeof(buffer), deadline);
    EXPECT_TRUE(n.ok()) << n.status();
    if (!n.ok() || *n == 0) break;
    raw.append(buffer, *n);
  }
  const size_t header_end = raw.find("\r\n\r\n");
  EXPECT_NE(header_end, std::string::npos) << raw;
  if (header_end == std::string::npos) return response;
  response.headers = raw.substr(0, header_end);
  response.body = raw.substr(header_end + 4);
  // "HTTP/1.1 200 OK"
  EXPECT_TRUE(absl::SimpleAtoi(absl::string_view(raw).substr(9, 3), &response.status)) << raw;
  return response;
}

HttpResponse Get(const MetricsEndpoint& endpoint, const std::string& path) {
  return Request("127.0.0.1", endpoint.port(), "GET", path);
}

MetricsEndpoint::Options LoopbackOptions() {
  MetricsEndpoint::Options options;
  options.port = 0;
  options.healthy = [] { return true; };
  options.ready = [] { return true; };
  return options;
}

std::unique_ptr<MetricsEndpoint> StartOrDie(MetricsEndpoint::Options options) {
  absl::StatusOr<std::unique_ptr<MetricsEndpoint>> endpoint =
      MetricsEndpoint::Start(std::move(options));
  EXPECT_TRUE(endpoint.ok()) << endpoint.status();
  return endpoint.ok() ? std::move(*endpoint) : nullptr;
}

TEST(MetricsEndpointTest, ServesRegistryAndCollectablesAtScrapeTime) {
  std::unique_ptr<MetricsEndpoint> endpoint = StartOrDie(LoopbackOptions());
  ASSERT_NE(endpoint, nullptr);
  EXPECT_GT(endpoint->port(), 0);
  EXPECT_EQ(endpoint->address(), absl::StrCat("127.0.0.1:", endpoint->port()));

  // A prometheus-cpp metric object in the endpoint's registry...
  prometheus::Counter& restarts = prometheus::BuildCounter()
                                      .Name("echo_config_reloads_total")
                                      .Help("Configuration reloads.")
                                      .Register(endpoint->registry())
                                      .Add({});
  restarts.Increment(2);
  // ...and the owner's counters, read only when scraped.
  EchoCounters counters;
  endpoint->RegisterCollectable(std::make_shared<EchoCountersCollectable>(&counters));
  counters.accepted = 3;
  counters.active = 1;
  counters.closed_idle = 4;

  HttpResponse first = Get(*endpoint, "/metrics");
  EXPECT_EQ(first.status, 200);
  EXPECT_TRUE(absl::StrContains(first.headers, "Content-Type: text/plain")) << first.headers;
  EXPECT_TRUE(absl::StrContains(first.body, "# TYPE echo_config_reloads_total counter\n"
                                            "echo_config_reloads_total 2\n"))
      << first.body;
  EXPECT_TRUE(absl::StrContains(first.body, "# HELP echo_connections_accepted_total "
                                            "Connections accepted.\n"
                                            "# TYPE echo_connections_accepted_total counter\n"
                                            "echo_connections_accepted_total 3\n"))
      << first.body;
  EXPECT_TRUE(absl::StrContains(first.body, "# TYPE echo_active_sessions gauge\n"
                                            "echo_active_sessions 1\n"))
      << first.body;
  EXPECT_TRUE(absl::StrContains(first.body,
                                "echo_sessions_closed_total{reason=\"idle_timeout\"} 4\n"
                                "echo_sessions_closed_total{reason=\"error\"} 0\n"))
      << first.body;

  counters.accepted = 10;
  counters.active = 0;
  HttpResponse second = Get(*endpoint, "/metrics");
  EXPECT_TRUE(absl::StrContains(second.body, "\necho_connections_accepted_total 10\n"))
      << second.body;
  EXPECT_TRUE(absl::StrContains(second.body, "\necho_active_sessions 0\n")) << second.body;
}

TEST(MetricsEndpointTest, RemovedCollectableIsNoLongerScraped) {
  std::unique_ptr<MetricsEndpoint> endpoint = StartOrDie(LoopbackOptions());
  ASSERT_NE(endpoint, nullptr);
  auto counters = std::make_unique<EchoCounters>();
  auto collectable = std::make_shared<EchoCountersCollectable>(counters.get());
  endpoint->RegisterCollectable(collectable);
  EXPECT_TRUE(absl::StrContains(Get(*endpoint, "/metrics").body, "echo_active_sessions"));

  endpoint->RemoveCollectable(collectable);
  counters.reset();  // safe: nothing reads it any more
  HttpResponse after = Get(*endpoint, "/metrics");
  EXPECT_EQ(after.status, 200);
  EXPECT_FALSE(absl::StrContains(after.body, "echo_active_sessions")) << after.body;
}

TEST(MetricsEndpointTest, ProbesFollowTheOwnersCallbacks) {
  std::atomic<bool> healthy{true};
  std::atomic<bool> ready{false};
  MetricsEndpoint::Options options = LoopbackOptions();
  options.healthy = [&healthy] { return healthy.load(); };
  options.ready = [&ready] { return ready.load(); };
  std::unique_ptr<MetricsEndpoint> endpoint = StartOrDie(std::move(options));
  ASSERT_NE(endpoint, nullptr);

  HttpResponse starting = Get(*endpoint, "/readyz");
  EXPECT_EQ(starting.status, 503);
  EXPECT_EQ(starting.body, "draining\n");
  HttpResponse live = Get(*endpoint, "/healthz");
  EXPECT_EQ(live.status, 200);
  EXPECT_EQ(live.body, "ok\n");
  EXPECT_TRUE(absl::StrContains(live.headers, "Cache-Control: no-store")) << live.headers;

  ready = true;
  HttpResponse serving = Get(*endpoint, "/readyz");
  EXPECT_EQ(serving.status, 200);
  EXPECT_EQ(serving.body, "ready\n");

  healthy = false;
  ready = false;
  HttpResponse sick = Get(*endpoint, "/healthz");
  EXPECT_EQ(sick.status, 503);
  EXPECT_EQ(sick.body, "unhealthy\n");
  EXPECT_EQ(Get(*endpoint, "/readyz").status, 503);

  HttpResponse head = Request("127.0.0.1", endpoint->port(), "HEAD", "/healthz");
  EXPECT_EQ(head.status, 503);
  EXPECT_EQ(head.body, "");

  EXPECT_EQ(Get(*endpoint, "/no-such-page").status, 404);
}

// No compression (civetweb's gzip went with it): a scraper that offers gzip
// gets identity, which every HTTP client and Prometheus accept.
TEST(MetricsEndpointTest, AnswersPlainTextWhenGzipIsOffered) {
  std::unique_ptr<MetricsEndpoint> endpoint = StartOrDie(LoopbackOptions());
  ASSERT_NE(endpoint, nullptr);
  HttpResponse scrape =
      Request("127.0.0.1", endpoint->port(), "GET", "/metrics", "Accept-Encoding: gzip\r\n");
  EXPECT_EQ(scrape.status, 200);
  EXPECT_FALSE(absl::StrContains(scrape.headers, "Content-Encoding")) << scrape.headers;
  EXPECT_TRUE(absl::StrContains(scrape.headers, "Content-Type: text/plain; version=0.0.4"))
      << scrape.headers;
}

TEST(MetricsEndpointTest, KeepsServingAfterBareConnectsAndGarbage) {
  std::unique_ptr<MetricsEndpoint> endpoint = StartOrDie(LoopbackOptions());
  ASSERT_NE(endpoint, nullptr);
  for (int i = 0; i < 3; ++i) {
    // Connect and hang up without a request (a TCP health check does this).
    absl::StatusOr<common::UniqueFd> bare =
        common::Connect("127.0.0.1", endpoint->port(), absl::Seconds(10));
    ASSERT_TRUE(bare.ok()) << bare.status();
  }
  HttpResponse garbage = Request("127.0.0.1", endpoint->port(), "NOT-HTTP\x01", "??");
  EXPECT_GE(garbage.status, 400);
  HttpResponse health = Get(*endpoint, "/healthz");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.body, "ok\n");
  EXPECT_EQ(Get(*endpoint, "/metrics").status, 200);
}

TEST(MetricsEndpointTest, PortInUseIsAnErrorNotACrash) {
  absl::StatusOr<common::UniqueFd> taken = common::Listen("127.0.0.1", 0, 16);
  ASSERT_TRUE(taken.ok()) << taken.status();
  MetricsEndpoint::Options options = LoopbackOptions();
  options.port = *common::BoundPort(*taken);
  absl::StatusOr<std::unique_ptr<MetricsEndpoint>> endpoint =
      MetricsEndpoint::Start(std::move(options));
  ASSERT_FALSE(endpoint.ok());
  EXPECT_EQ(endpoint.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(absl::StrContains(endpoint.status().message(), "Address already in use"))
      << endpoint.status();

  // A second endpoint on a running endpoint's port fails the same way.
  std::unique_ptr<MetricsEndpoint> first = StartOrDie(LoopbackOptions());
  ASSERT_NE(first, nullptr);
  MetricsEndpoint::Options same_port = LoopbackOptions();
  same_port.port = first->port();
  EXPECT_EQ(MetricsEndpoint::Start(std::move(same_port)).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(Get(*first, "/healthz").status, 200);
}

TEST(MetricsEndpointTest, UnusableAddressesAreErrors) {
  for (const char* host : {"localhost", "[::1]", "127.0.0.1:80", "", "999.0.0.1"}) {
    MetricsEndpoint::Options options = LoopbackOptions();
    options.host = host;
    EXPECT_EQ(MetricsEndpoint::Start(std::move(options)).status().code(),
              absl::StatusCode::kInvalidArgument)
        << host;
  }
  for (int port : {-1, 65536}) {
    MetricsEndpoint::Options options = LoopbackOptions();
    options.port = port;
    EXPECT_EQ(MetricsEndpoint::Start(std::move(options)).status().code(),
              absl::StatusCode::kInvalidArgument)
        << port;
  }
  // TEST-NET-1: a well-formed address this machine does not have.
  MetricsEndpoint::Options foreign = LoopbackOptions();
  foreign.host = "192.0.2.1";
  absl::StatusOr<std::unique_ptr<MetricsEndpoint>> endpoint =
      MetricsEndpoint::Start(std::move(foreign));
  EXPECT_EQ(endpoint.status().code(), absl::StatusCode::kUnavailable) << endpoint.status();
  EXPECT_TRUE(absl::StrContains(endpoint.status().message(), "192.0.2.1")) << endpoint.status();
}

TEST(MetricsEndpointTest, ServesOnIpv6Loopback) {
  if (!common::Listen("::1", 0, 16).ok()) GTEST_SKIP() << "no IPv6 loopback here";
  MetricsEndpoint::Options options = LoopbackOptions();
  options.host = "::1";
  std::unique_ptr<MetricsEndpoint> endpoint = StartOrDie(std::move(options));
  ASSERT_NE(endpoint, nullptr);
  EXPECT_EQ(endpoint->address(), absl::StrCat("[::1]:", endpoint->port()));
  HttpResponse health = Request("::1", endpoint->port(), "GET", "/healthz");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.body, "ok\n");
}

TEST(MetricsEndpointTest, ConcurrentScrapesSeeConsistentFamilies) {
  std::unique_ptr<MetricsEndpoint> endpoint = StartOrDie(LoopbackOptions());
  ASSERT_NE(endpoint, nullptr);
  EchoCounters counters;
  endpoint->RegisterCollectable(std::make_shared<EchoCountersCollectable>(&counters));
  std::atomic<bool> stop{false};
  std::thread bumper([&] {
    while (!stop.load()) {
      counters.accepted.fetch_add(1, std::memory_order_relaxed);
      counters.active.fetch_add(1, std::memory_order_relaxed);
      counters.active.fetch_sub(1, std::memory_order_relaxed);
    }
  });
  std::vector<std::thread> scrapers;
  std::atomic<int> complete{0};
  for (int t = 0; t < 3; ++t) {
    scrapers.emplace_back([&] {
      for (int i = 0; i < 10; ++i) {
        HttpResponse r = Get(*endpoint, "/metrics");
        if (r.status == 200 && absl::StrContains(r.body, "\necho_connections_accepted_total ") &&
            absl::StrContains(r.body, "echo_sessions_closed_total{reason=\"error\"} 0\n")) {
          complete.fetch_add(1);
        }
      }
    });
  }
  for (std::thread& t : scrapers) t.join();
  stop = true;
  bumper.join();
  EXPECT_EQ(complete.load(), 30);
}

TEST(MetricsEndpointTest, ExpositionPassesPromtoolLint) {
  std::unique_ptr<MetricsEndpoint> endpoint = StartOrDie(LoopbackOptions());
  ASSERT_NE(endpoint, nullptr);
  EchoCounters counters;
  endpoint->RegisterCollectable(std::make_shared<EchoCountersCollectable>(&counters));
  endpoint->RegisterCollectable(std::make_shared<ProcessMetrics>());
  HttpResponse scrape = Get(*endpoint, "/metrics");
  ASSERT_EQ(scrape.status, 200);
  EXPECT_TRUE(absl::StrContains(scrape.body, "\nprocess_open_fds ")) << scrape.body;

  // Debian's prometheus package (tools/setup.sh installs it) brings promtool.
  common::SubprocessOptions options;
  options.stdin_data = scrape.body;
  common::Subprocess promtool("/usr/bin/promtool", {"check", "metrics"}, options);
  std::optional<int> exit_code = promtool.Wait(absl::Seconds(60));
  ASSERT_TRUE(exit_code.has_value()) << "promtool did not finish";
  EXPECT_EQ(*exit_code, 0) << promtool.Stdout() << promtool.Stderr() << "\n" << scrape.body;
}

}  // namespace
}  // namespace server
