#include "common/command_line_help.h"

#include <string>

#include "common/build_info.h"
#include "gflags/gflags.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

DEFINE_int32(help_test_workers, 3, "A flag of this binary, whose description is long enough to "
             "be wrapped over more than one line of the help text, word by word.");
DEFINE_string(help_test_name, "", "Another own flag.");

namespace common {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(CommandLineHelpTest, ListsOwnFlagsAndPointsToHelpfull) {
  gflags::SetUsageMessage("Usage: test [--help_test_workers=N]");
  const std::string help = OwnFlagsHelp();
  EXPECT_EQ(help.find("Usage: test"), 0u);
  EXPECT_THAT(help, HasSubstr("  --help_test_workers=3  (int32)\n      A flag of this binary"));
  EXPECT_THAT(help, HasSubstr("  --help_test_name=\"\"  (string)\n      Another own flag.\n"));
  EXPECT_THAT(help, HasSubstr("--helpfull"));
  // gflags' and glog's flags (defined under external/) are left to --helpfull.
  EXPECT_THAT(help, Not(HasSubstr("--tab_completion_columns")));
  EXPECT_THAT(help, Not(HasSubstr("--fromenv")));
  for (size_t start = 0, end; (end = help.find('\n', start)) != std::string::npos;
       start = end + 1) {
    EXPECT_LE(end - start, 78u) << help.substr(start, end - start);
  }
}

TEST(CommandLineHelpTest, VersionNamesVersionAndCommit) {
  EXPECT_EQ(VersionLine("server"),
            std::string("server ") + kBuildVersion + " (commit " + kBuildCommit + ")");
  EXPECT_STRNE(kBuildVersion, "");
  EXPECT_STRNE(kBuildCommit, "");
}

}  // namespace
}  // namespace common
