// The short CI version of //tools:soak, against both scheduling models.

#include "gtest/gtest.h"
#include "tools/soak.h"

namespace tests {
namespace {

class SoakTest : public ::testing::TestWithParam<std::string> {};

TEST_P(SoakTest, EveryReplyVerifiedAndDescriptorsReturnToBaseline) {
  tools::SoakOptions options;
  options.connections = 100;
  options.duration = absl::Seconds(8);
  options.max_line_bytes = 4096;
  options.disconnect_probability = 0.02;
  options.server_flags = {"--model=" + GetParam()};
  if (GetParam() == "classic") options.server_flags.push_back("--workers=256");
  auto report = tools::RunSoak(options);
  ASSERT_TRUE(report.ok()) << report.status();
  SCOPED_TRACE(report->ToText());
  EXPECT_GT(report->load.round_trips, 0);
  EXPECT_EQ(report->load.lines_sent, report->load.round_trips);
  EXPECT_EQ(report->load.mismatches, 0);
  EXPECT_EQ(report->load.timeouts, 0);
  EXPECT_EQ(report->fds_end, report->fds_start);
  // The hostile clients were closed by the server, and came back.
  EXPECT_GT(report->hostile_closed, 0);
  EXPECT_EQ(report->server_exit_code, 0);
  EXPECT_TRUE(report->ok());
}

INSTANTIATE_TEST_SUITE_P(Models, SoakTest, ::testing::Values("event", "classic"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param;
                         });

}  // namespace
}  // namespace tests
