// The short CI version of //tools:soak, against both scheduling models.

#include "gtest/gtest.h"
#include "tools/soak.h"

namespace tests {
namespace {

class SoakTest : public ::testing::TestWithParam<bool> {};

TEST_P(SoakTest, EveryReplyVerifiedAndDescriptorsReturnToBaseline) {
  tools::SoakOptions options;
  options.connections = 100;
  options.duration = absl::Seconds(8);
  options.max_line_bytes = 4096;
  options.disconnect_probability = 0.02;
  if (GetParam()) options.server_flags = {"--park_idle_sessions", "--workers=2"};
  auto report = tools::RunSoak(options);
  ASSERT_TRUE(report.ok()) << report.status();
  SCOPED_TRACE(report->ToText());
  EXPECT_GT(report->load.round_trips, 0);
  EXPECT_EQ(report->load.lines_sent, report->load.round_trips);
  EXPECT_EQ(report->load.mismatches, 0);
  EXPECT_EQ(report->load.timeouts, 0);
  EXPECT_EQ(report->fds_end, report->fds_start);
  EXPECT_EQ(report->server_exit_code, 0);
  EXPECT_TRUE(report->ok());
}

INSTANTIATE_TEST_SUITE_P(Models, SoakTest, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "ParkedSessions" : "WorkerPerSession";
                         });

}  // namespace
}  // namespace tests
