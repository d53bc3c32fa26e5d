#include "common/flagfile_check.h"

#include <fstream>
#include <string>
#include <vector>

#include "common/subprocess.h"
#include "gflags/gflags.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

DEFINE_int32(test_workers, 0, "an int flag for the test");
DEFINE_bool(test_switch, false, "a bool flag for the test");
DEFINE_string(test_name, "", "a string flag for the test");

namespace common {
namespace {

using ::testing::HasSubstr;

std::string Check(const std::string& text, std::vector<std::string>* nested = nullptr) {
  std::vector<std::string> ignored;
  absl::Status s = CheckFlagfileText("F", text, nested != nullptr ? nested : &ignored);
  return s.ok() ? "ok" : std::string(s.message());
}

TEST(FlagfileCheckTest, AcceptsWhatGflagsReads) {
  EXPECT_EQ(Check(""), "ok");
  EXPECT_EQ(Check("# a comment\n\n  --test_workers=3  \r\n-test_name=x y\n"), "ok");
  EXPECT_EQ(Check("--test_switch\n--notest_switch\n--test_switch=false\n"), "ok");
  EXPECT_EQ(Check("--test_name=\n"), "ok");  // an empty string is a value
}

TEST(FlagfileCheckTest, NamesFileLineAndFlag) {
  EXPECT_EQ(Check("# ok\n--test_workrs=1000\n"),
            "flagfile F:2: unknown flag 'test_workrs': '--test_workrs=1000'");
  EXPECT_THAT(Check("--test_workers = 2\n"),
              HasSubstr("flagfile F:1: malformed flag name 'test_workers '"));
  EXPECT_THAT(Check("\n\ntest_workers=2\n"), HasSubstr("flagfile F:3: not a flag"));
  EXPECT_THAT(Check("--test_workers\n"), HasSubstr("F:1: flag 'test_workers' needs a value"));
  EXPECT_THAT(Check("--notest_workers\n"), HasSubstr("F:1: unknown flag 'notest_workers'"));
  EXPECT_THAT(Check("--=3\n"), HasSubstr("F:1: malformed flag name ''"));
}

TEST(FlagfileCheckTest, CollectsNestedFlagfiles) {
  std::vector<std::string> nested;
  EXPECT_EQ(Check("--flagfile=a,b\n--flagfile=c\n", &nested), "ok");
  EXPECT_EQ(nested, (std::vector<std::string>{"a", "b", "c"}));
}

void Write(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

TEST(FlagfileCheckTest, FollowsFlagfilesFromArgvRecursively) {
  const std::string outer = TempPath("outer.flags");
  const std::string inner = TempPath("inner.flags");
  Write(outer, "--test_workers=2\n--flagfile=" + inner + "\n");
  Write(inner, "--test_name=x\n--test_nmae=y\n");
  std::string arg = "--flagfile=" + outer;
  char* argv[] = {const_cast<char*>("prog"), arg.data()};
  absl::Status s = CheckFlagfiles(2, argv);
  EXPECT_THAT(std::string(s.message()),
              HasSubstr("flagfile " + inner + ":2: unknown flag 'test_nmae'"));

  // "--flagfile F" (two arguments) too.
  Write(inner, "--test_name=x\n");
  std::string flag = "--flagfile";
  char* split[] = {const_cast<char*>("prog"), flag.data(), const_cast<char*>(outer.c_str())};
  EXPECT_TRUE(CheckFlagfiles(3, split).ok());
}

TEST(FlagfileCheckTest, RefusesCyclesAndUnreadableFiles) {
  const std::string self = TempPath("self.flags");
  Write(self, "--flagfile=" + self + "\n");
  std::string arg = "--flagfile=" + self;
  char* argv[] = {const_cast<char*>("prog"), arg.data()};
  EXPECT_THAT(std::string(CheckFlagfiles(2, argv).message()), HasSubstr("includes itself"));

  std::string missing = "--flagfile=" + TempPath("missing.flags");
  char* argv2[] = {const_cast<char*>("prog"), missing.data()};
  EXPECT_THAT(std::string(CheckFlagfiles(2, argv2).message()),
              HasSubstr("cannot read: No such file"));

  std::string dir = "--flagfile=" + TempPath("");
  char* argv3[] = {const_cast<char*>("prog"), dir.data()};
  EXPECT_THAT(std::string(CheckFlagfiles(2, argv3).message()), HasSubstr("is a directory"));
}

}  // namespace
}  // namespace common
