#include "server/server_options.h"

#include <string>

#include "gtest/gtest.h"

namespace server {
namespace {

TEST(ServerOptionsTest, DefaultsAreValid) { EXPECT_TRUE(ServerOptions().Validate().ok()); }

TEST(ServerOptionsTest, ErrorsNameTheFlag) {
  struct Case {
    void (*mutate)(ServerOptions&);
    std::string flag;
  };
  const Case cases[] = {
      {[](ServerOptions& o) { o.workers = 0; }, "--workers"},
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
}

}  // namespace
}  // namespace server
