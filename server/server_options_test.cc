#include "server/server_options.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace server {
namespace {

using ::testing::HasSubstr;

TEST(ServerOptionsTest, DefaultsAreValid) { EXPECT_TRUE(ServerOptions().Validate().ok()); }

TEST(ServerOptionsTest, WorkersAreCappedPerModel) {
  ServerOptions o;
  o.model = Model::kClassic;
  o.workers = kMaxClassicWorkers;
  EXPECT_TRUE(o.Validate().ok());
  o.workers = kMaxClassicWorkers + 1;
  EXPECT_THAT(std::string(o.Validate().message()),
              HasSubstr("--workers must be between 0 and 10000"));
  o.model = Model::kEvent;
  o.workers = kMaxEventWorkers;
  EXPECT_TRUE(o.Validate().ok());
  o.workers = kMaxEventWorkers + 1;
  EXPECT_THAT(std::string(o.Validate().message()),
              HasSubstr("--workers must be between 0 and 4096"));
}

TEST(ServerOptionsTest, ErrorsNameTheFlag) {
  struct Case {
    void (*mutate)(ServerOptions&);
    std::string flag;
  };
  const Case cases[] = {
      {[](ServerOptions& o) { o.workers = -1; }, "--workers"},
      {[](ServerOptions& o) { o.max_connections = -1; }, "--max_connections"},
      {[](ServerOptions& o) { o.max_output_bytes = 100; }, "--max_output_bytes"},
      // The output cap must hold the longest line's reply with room to spare.
      {[](ServerOptions& o) { o.max_line_bytes = 1 << 20; }, "--max_output_bytes"},
      {[](ServerOptions& o) { o.queue_capacity = -1; }, "--queue_capacity"},
      {[](ServerOptions& o) { o.port = 70000; }, "--port"},
      {[](ServerOptions& o) { o.listen_backlog = 0; }, "--listen_backlog"},
      {[](ServerOptions& o) { o.idle_timeout_ms = -5; }, "--idle_timeout_ms"},
      {[](ServerOptions& o) { o.write_timeout_ms = 0; }, "--write_timeout_ms"},
      {[](ServerOptions& o) { o.max_line_bytes = 0; }, "--max_line_bytes"},
      {[](ServerOptions& o) { o.shutdown_grace_ms = -1; }, "--shutdown_grace_ms"},
      {[](ServerOptions& o) { o.stats_interval_ms = -1; }, "--stats_interval_ms"},
      {[](ServerOptions& o) { o.welcome = "two\nlines"; }, "--welcome"},
      {[](ServerOptions& o) { o.reply_prefix = "\r"; }, "--reply_prefix"},
      {[](ServerOptions& o) { o.host = ""; }, "--host"},
      {[](ServerOptions& o) { o.socket_buffer_bytes = -1; }, "--socket_buffer_bytes"},
      {[](ServerOptions& o) { o.proxy_header_timeout_ms = 0; }, "--proxy_header_timeout_ms"},
      {[](ServerOptions& o) { o.drain_delay_ms = -1; }, "--drain_delay_ms"},
      {[](ServerOptions& o) { o.metrics_port = 70000; }, "--metrics_port"},
      {[](ServerOptions& o) { o.tls_cert = "cert.pem"; }, "--tls_key"},
      {[](ServerOptions& o) { o.tls_key = "key.pem"; }, "--tls_cert"},
      {[](ServerOptions& o) { o.tls_client_ca = "ca.pem"; }, "--tls_client_ca"},
      {[](ServerOptions& o) { o.tls_handshake_timeout_ms = 0; }, "--tls_handshake_timeout_ms"},
  };
  for (const Case& c : cases) {
    ServerOptions o;
    c.mutate(o);
    absl::Status s = o.Validate();
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.flag;
    EXPECT_NE(s.message().find(c.flag), absl::string_view::npos) << s.message();
  }
}

TEST(ServerOptionsTest, ParsesEnums) {
  EXPECT_EQ(*ParseOverloadPolicy("reject"), OverloadPolicy::kReject);
  EXPECT_EQ(*ParseOverloadPolicy("block"), OverloadPolicy::kBlock);
  EXPECT_NE(ParseOverloadPolicy("drop").status().message().find("--overload_policy"),
            absl::string_view::npos);
  EXPECT_EQ(*ParseFraming("line"), Framing::kLine);
  EXPECT_EQ(*ParseFraming("raw"), Framing::kRaw);
  EXPECT_FALSE(ParseFraming("json").ok());
  EXPECT_EQ(OverloadPolicyName(OverloadPolicy::kBlock), "block");
  EXPECT_EQ(FramingName(Framing::kRaw), "raw");
  EXPECT_EQ(*ParseModel("event"), Model::kEvent);
  EXPECT_EQ(*ParseModel("classic"), Model::kClassic);
  EXPECT_NE(ParseModel("parked").status().message().find("--model"), absl::string_view::npos);
  EXPECT_EQ(ModelName(Model::kClassic), "classic");
  EXPECT_EQ(*ParseProxyProtocol("off"), std::nullopt);
  EXPECT_EQ(*ParseProxyProtocol("v1"), common::ProxyVersions::kV1);
  EXPECT_EQ(*ParseProxyProtocol("v2"), common::ProxyVersions::kV2);
  EXPECT_EQ(*ParseProxyProtocol("any"), common::ProxyVersions::kAny);
  EXPECT_NE(ParseProxyProtocol("v3").status().message().find("--proxy_protocol"),
            absl::string_view::npos);
  EXPECT_EQ(ProxyProtocolName(common::ProxyVersions::kV2), "v2");
  EXPECT_EQ(ProxyProtocolName(std::nullopt), "off");
}

TEST(ServerOptionsTest, IoUringIsForTheEventModelOnly) {
  EXPECT_EQ(*ParseIo("epoll"), common::IoBackend::kEpoll);
  EXPECT_EQ(*ParseIo("io_uring"), common::IoBackend::kIoUring);
  EXPECT_NE(ParseIo("kqueue").status().message().find("--io"), absl::string_view::npos);
  EXPECT_EQ(IoName(common::IoBackend::kIoUring), "io_uring");
  // The default backend is io_uring; the classic model, which has no
  // poller, takes the default too (its --io by name is refused by main).
  ServerOptions options;
  EXPECT_EQ(options.io, common::IoBackend::kIoUring);
  EXPECT_TRUE(options.Validate().ok());
  options.model = Model::kClassic;
  EXPECT_TRUE(options.Validate().ok());
}

TEST(ServerOptionsTest, MetricsAreOnWithAPortOrAPortFile) {
  ServerOptions o;
  EXPECT_FALSE(o.metrics_enabled());
  o.metrics_port = 9888;
  EXPECT_TRUE(o.metrics_enabled());
  o.metrics_port = 0;
  o.metrics_port_file = "/tmp/metrics.port";  // any free port, written there
  EXPECT_TRUE(o.metrics_enabled());
}

TEST(ServerOptionsTest, WorkersDefaultToUsableCpusInTheEventModel) {
  ServerOptions o;
  EXPECT_EQ(ResolvedWorkers(o, 2), 2);
  EXPECT_EQ(ResolvedWorkers(o, 1), 1);
  o.workers = 1;
  EXPECT_EQ(ResolvedWorkers(o, 2), 1);
  o.workers = 64;  // more event workers than CPUs would only take turns
  EXPECT_EQ(ResolvedWorkers(o, 2), 2);
  o.workers = 0;
  o.model = Model::kClassic;  // a worker per client: a pool, not a CPU count
  EXPECT_EQ(ResolvedWorkers(o, 2), 64);
  o.workers = 7;
  EXPECT_EQ(ResolvedWorkers(o, 2), 7);
}

TEST(ServerOptionsTest, MaxConnectionsDefaultsToWhatDescriptorsAllow) {
  ServerOptions o;
  // 20000 descriptors, 2 workers: an eighth kept for lingering sockets and
  // 16 + 2 per worker for the server's own.
  EXPECT_EQ(ResolvedMaxConnections(o, 20000, 2), 20000 - 2500 - 20);
  EXPECT_EQ(ResolvedMaxConnections(o, 64, 2), 64 - 8 - 20);
  EXPECT_EQ(ResolvedMaxConnections(o, 16, 2), 1);
  o.max_connections = 1000;
  EXPECT_EQ(ResolvedMaxConnections(o, 20000, 2), 1000);
}

}  // namespace
}  // namespace server
