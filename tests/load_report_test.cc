// The load generator's reports, from the real client binary against a real
// server: connect mode counts connections (not "round trips"), idle mode
// prints no latency it never measured, reconnections show in the text,
// the closing lines --reconnect expects are not errors, and a --raw that
// does not match the server's framing gets a hint either way.

#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/server_harness.h"

namespace tests {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string PortFlag(const ServerProcess& server) {
  return absl::StrCat("--port=", server.port());
}

TEST(LoadReportTest, ConnectModeCountsConnections) {
  ServerProcess server({"--stats_interval_ms=0"});
  ASSERT_TRUE(server.ok());
  ClientResult text = RunClient({PortFlag(server), "--load", "--load_mode=connect",
                                 "--connections=2", "--requests=50", "--progress=false"});
  EXPECT_EQ(text.exit_code, 0) << text.err;
  EXPECT_THAT(text.out, HasSubstr("connects:    50 connections"));
  EXPECT_THAT(text.out, HasSubstr("connects/s"));
  EXPECT_THAT(text.out, Not(HasSubstr("round trip")));
  ClientResult json = RunClient({PortFlag(server), "--load", "--load_mode=connect",
                                 "--connections=2", "--requests=50", "--json",
                                 "--progress=false"});
  EXPECT_EQ(json.exit_code, 0) << json.err;
  EXPECT_THAT(json.out, HasSubstr("\"connects\":50,"));
  EXPECT_THAT(json.out, HasSubstr("\"connects_per_s\":"));
  EXPECT_THAT(json.out, HasSubstr("\"mode\":\"connect\""));
  // The keys tools and tests already read are still there.
  EXPECT_THAT(json.out, HasSubstr("\"round_trips\":50,"));
  EXPECT_THAT(json.out, HasSubstr("\"rtt_per_s\":"));
  EXPECT_EQ(server.Stop(), 0);
}

TEST(LoadReportTest, IdleModeShowsNoLatencyItNeverMeasured) {
  ServerProcess server({"--stats_interval_ms=0"});
  ASSERT_TRUE(server.ok());
  ClientResult silent = RunClient({PortFlag(server), "--load", "--load_mode=idle",
                                   "--connections=4", "--duration_ms=300", "--progress=false"});
  EXPECT_EQ(silent.exit_code, 0) << silent.err;
  EXPECT_THAT(silent.out, HasSubstr("idle:        4 of 4 connections welcomed and held"));
  EXPECT_THAT(silent.out, Not(HasSubstr("latency")));
  EXPECT_THAT(silent.out, Not(HasSubstr("round trips")));
  EXPECT_EQ(server.Stop(), 0);
}

TEST(LoadReportTest, ReconnectsAreReportedAndExpectedByesAreNotErrors) {
  // Idle clients the server closes after 200 ms ("bye: idle timeout")
  // reconnect under --reconnect.
  ServerProcess server({"--stats_interval_ms=0", "--idle_timeout_ms=200"});
  ASSERT_TRUE(server.ok());
  ClientResult r = RunClient({PortFlag(server), "--load", "--load_mode=idle", "--connections=2",
                              "--duration_ms=1500", "--reconnect", "--progress=false"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("reconnects:  "));
  EXPECT_THAT(r.out, HasSubstr("the server ended"));
  EXPECT_THAT(r.out, Not(HasSubstr("reconnects:  0 ")));
  EXPECT_THAT(r.out, HasSubstr("errors:      connect_failures 0  timeouts 0  mismatches 0"));
  EXPECT_THAT(r.out, Not(HasSubstr("server_closed")));
  // The same closings without --reconnect are errors: the clients stay gone.
  ClientResult once = RunClient({PortFlag(server), "--load", "--load_mode=idle",
                                 "--connections=2", "--duration_ms=800", "--progress=false"});
  EXPECT_THAT(once.out, HasSubstr("server_closed 2"));
  EXPECT_THAT(once.out, Not(HasSubstr("reconnects:")));
  EXPECT_EQ(server.Stop(), 0);
}

TEST(LoadReportTest, RawAgainstALineServerSuggestsDroppingRaw) {
  ServerProcess server({"--stats_interval_ms=0"});
  ASSERT_TRUE(server.ok());
  ClientResult r = RunClient({PortFlag(server), "--load", "--raw", "--connections=1",
                              "--requests=5", "--progress=false"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.out, HasSubstr("server's framing may be line"));
  EXPECT_THAT(r.out, HasSubstr("drop --raw"));
  EXPECT_EQ(server.Stop(), 0);
}

TEST(LoadReportTest, LineModeAgainstARawServerSuggestsRaw) {
  ServerProcess server({"--stats_interval_ms=0", "--framing=raw"});
  ASSERT_TRUE(server.ok());
  ClientResult r = RunClient({PortFlag(server), "--load", "--connections=1", "--duration_ms=2000",
                              "--timeout_ms=1000", "--progress=false"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.out, HasSubstr("no welcome line arrived"));
  EXPECT_THAT(r.out, HasSubstr("add --raw"));
  // And with --raw it works.
  ClientResult raw = RunClient({PortFlag(server), "--load", "--raw", "--connections=1",
                                "--requests=5", "--progress=false"});
  EXPECT_EQ(raw.exit_code, 0) << raw.out;
  EXPECT_THAT(raw.out, Not(HasSubstr("hint")));
  EXPECT_EQ(server.Stop(), 0);
}

}  // namespace
}  // namespace tests
