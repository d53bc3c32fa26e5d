// The short CI version of //tools:soak, against both scheduling models;
// its progress lines; and what its report says when a check fails.

#include <mutex>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tools/soak.h"

namespace tests {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

class SoakTest : public ::testing::TestWithParam<std::string> {};

TEST_P(SoakTest, EveryReplyVerifiedAndDescriptorsReturnToBaseline) {
  tools::SoakOptions options;
  options.connections = 100;
  // Long enough for the hostile clients to be closed (about 3 s each: fill
  // the buffers, then the write or slow-reader timeout) even when the
  // machine is busy with other tests: 8 s was marginal under a sanitizer.
  options.duration = absl::Seconds(12);
  options.max_line_bytes = 4096;
  options.disconnect_probability = 0.02;
  if (GetParam() == "event_uring") {
    options.server_flags = {"--model=event", "--io=io_uring"};
  } else if (GetParam() == "event") {
    options.server_flags = {"--model=event", "--io=epoll"};
  } else {
    options.server_flags = {"--model=" + GetParam()};
  }
  if (GetParam() == "classic") options.server_flags.push_back("--workers=256");
  std::mutex mu;
  std::vector<std::string> progress;
  options.progress_every = absl::Seconds(2);
  options.on_progress = [&](const std::string& line) {
    std::lock_guard<std::mutex> lock(mu);
    progress.push_back(line);
  };
  auto report = tools::RunSoak(options);
  ASSERT_TRUE(report.ok()) << report.status();
  SCOPED_TRACE(report->ToText());
  // Progress lines came while it ran (a 12 s run, one every 2 s).
  ASSERT_FALSE(progress.empty());
  EXPECT_THAT(progress[0], ::testing::MatchesRegex("soak [0-9]+/12 s: .*"));
  EXPECT_THAT(progress[0], HasSubstr("round trips"));
  EXPECT_THAT(progress[0], HasSubstr("server fds"));
  EXPECT_GT(report->load.round_trips, 0);
  EXPECT_EQ(report->load.lines_sent, report->load.round_trips);
  EXPECT_EQ(report->load.mismatches, 0);
  EXPECT_EQ(report->load.timeouts, 0);
  EXPECT_EQ(report->fds_end, report->fds_start);
  // The hostile clients were closed by the server, and came back.
  EXPECT_GT(report->hostile_closed, 0);
  EXPECT_EQ(report->server_exit_code, 0);
  EXPECT_TRUE(report->ok());
  EXPECT_THAT(report->ToText(), HasSubstr("SOAK OK"));
}

// A failed soak names each failed check with its numbers.
TEST(SoakReportTest, FailureSaysWhichCheckAndTheNumbers) {
  tools::SoakReport report;
  report.load.lines_sent = 1000;
  report.load.round_trips = 997;
  report.load.timeouts = 3;
  report.fds_start = 12;
  report.fds_end = 15;
  report.server_exit_code = 0;
  report.hostile_sessions = 4;
  report.hostile_closed = 0;
  EXPECT_FALSE(report.ok());
  EXPECT_THAT(report.Failures(),
              ElementsAre(HasSubstr("3 lines sent were never verified (sent 1000, verified 997; "
                                    "timeouts 3"),
                          "server descriptors did not return to baseline: 12 at the start, 15 "
                          "at the end",
                          HasSubstr("closed none of the hostile clients' 4 sessions")));
  EXPECT_THAT(report.ToText(), HasSubstr("SOAK FAILED: 3 lines sent were never verified"));

  report.load.round_trips = 1000;
  report.fds_end = 12;
  report.hostile_closed = 1;
  report.server_exit_code = 1;
  EXPECT_THAT(report.Failures(), ElementsAre("server exit code 1, not 0"));
  report.server_exit_code = 0;
  EXPECT_TRUE(report.ok());
  EXPECT_TRUE(report.Failures().empty());
}

INSTANTIATE_TEST_SUITE_P(Models, SoakTest, ::testing::Values("event", "event_uring", "classic"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param;
                         });

}  // namespace
}  // namespace tests
