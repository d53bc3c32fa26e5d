#include "client/port_source.h"

#include <sys/stat.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "absl/time/clock.h"
#include "common/subprocess.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace client {
namespace {

using ::testing::HasSubstr;

std::string Message(const absl::Status& s) { return std::string(s.message()); }

TEST(PortSourceTest, PortIsRangeChecked) {
  EXPECT_TRUE(CheckPortFlags(1, true, "").ok());
  EXPECT_TRUE(CheckPortFlags(65535, true, "").ok());
  EXPECT_EQ(Message(CheckPortFlags(99999, true, "")),
            "--port must be between 1 and 65535 (got 99999)");
  EXPECT_THAT(Message(CheckPortFlags(-1, true, "")), HasSubstr("(got -1)"));
  EXPECT_THAT(Message(CheckPortFlags(0, true, "")), HasSubstr("(got 0)"));
  EXPECT_TRUE(absl::IsInvalidArgument(CheckPortFlags(0, true, "")));
}

TEST(PortSourceTest, PortAndPortFileExcludeEachOther) {
  EXPECT_THAT(Message(CheckPortFlags(8888, true, "f")), HasSubstr("exclude each other"));
  EXPECT_TRUE(CheckPortFlags(8888, false, "f").ok());  // the default --port does not count
}

TEST(PortSourceTest, RelativePathFollowsBuildWorkingDirectory) {
  EXPECT_EQ(ResolvePortFilePath("p", "/home/u/src"), "/home/u/src/p");
  EXPECT_EQ(ResolvePortFilePath("/tmp/p", "/home/u/src"), "/tmp/p");
  EXPECT_EQ(ResolvePortFilePath("p", nullptr), "p");
  EXPECT_EQ(ResolvePortFilePath("p", ""), "p");
}

void Write(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

TEST(PortSourceTest, ReadsAPort) {
  const std::string path = common::TempPath("good.port");
  Write(path, "4321\n");
  auto port = ReadPortFile(path, absl::Now());
  ASSERT_TRUE(port.ok()) << port.status();
  EXPECT_EQ(*port, 4321);
}

TEST(PortSourceTest, SaysWhatIsWrongAtOnce) {
  const absl::Time far = absl::Now() + absl::Seconds(60);
  const std::string garbage = common::TempPath("garbage.port");
  Write(garbage, "hello\n");
  const absl::Time start = absl::Now();
  EXPECT_THAT(Message(ReadPortFile(garbage, far).status()),
              HasSubstr("holds 'hello?', not a port number"));
  Write(garbage, "70000\n");
  EXPECT_THAT(Message(ReadPortFile(garbage, far).status()), HasSubstr("not a port number"));
  Write(garbage, "");
  EXPECT_THAT(Message(ReadPortFile(garbage, far).status()), HasSubstr("holds ''"));
  const std::string dir = common::TempPath("a_dir");
  ::mkdir(dir.c_str(), 0700);
  EXPECT_THAT(Message(ReadPortFile(dir, far).status()), HasSubstr("is a directory"));
  EXPECT_LT(absl::Now() - start, absl::Seconds(30)) << "did not wait for the deadline";
}

TEST(PortSourceTest, MissingFileWaitsUntilTheDeadline) {
  const std::string path = common::TempPath("never.port");
  std::remove(path.c_str());
  auto port = ReadPortFile(path, absl::Now() + absl::Milliseconds(50));
  EXPECT_TRUE(absl::IsDeadlineExceeded(port.status()));
  EXPECT_THAT(Message(port.status()), HasSubstr("did not appear"));
}

}  // namespace
}  // namespace client
