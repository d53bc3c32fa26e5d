// What the real server binary does before it serves: the memory a large
// classic pool holds with no client, and the start-up refusals (a --workers
// beyond what the model can hold, a flagfile with a line gflags would skip),
// and -h / --help / --helpfull / --version of the server and the client.

#include <fstream>
#include <memory>
#include <optional>
#include <utility>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/server_harness.h"

namespace tests {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(StartupTest, LargeClassicPoolHoldsNoBuffersBeforeAnyClient) {
  if (kSanitized) GTEST_SKIP() << "resident memory is the sanitizer's, not the server's";
  // 5,000 workers held 382 MiB when each kept about 80 KiB of buffers from
  // the start; now a waiting worker holds its thread's stack only (about
  // 50 MiB in all, measured).
  ServerProcess server({"--model=classic", "--workers=5000", "--stats_interval_ms=0"});
  ASSERT_TRUE(server.ok()) << server.process().Stderr();
  EXPECT_EQ(server.process().Threads(), 5000 + 4);  // main, acceptor, closer, stats
  const int64_t rss = server.process().RssBytes();
  EXPECT_GT(rss, 0);
  EXPECT_LT(rss, int64_t{128} << 20) << "resident bytes with 5,000 idle classic workers";
  // Buffers come with a session: it still echoes.
  EXPECT_TRUE(ServesOneMore(server));
  EXPECT_EQ(server.Stop(), 0);
}

TEST(StartupTest, ClassicAutoWorkerCountIsNotCalledCpuCount) {
  ServerProcess server({"--model=classic", "--stats_interval_ms=0"});
  ASSERT_TRUE(server.ok()) << server.process().Stderr();
  // Stopped first, so its whole log has been read (the port file, which
  // says "started", can come before the start-up line).
  EXPECT_EQ(server.Stop(), 0);
  EXPECT_THAT(server.process().Stderr(),
              HasSubstr("model=classic workers=64 (auto: the classic model's default)"));
  EXPECT_THAT(server.process().Stderr(), HasSubstr(" overload_policy=reject "));
}

// The start-up line names only what applies to the model: the event model's
// workers take connections at once, so it has no overload policy.
TEST(StartupTest, EventStartUpLineLeavesOutTheOverloadPolicy) {
  ServerProcess server({"--model=event", "--stats_interval_ms=0"});
  ASSERT_TRUE(server.ok()) << server.process().Stderr();
  EXPECT_EQ(server.Stop(), 0);
  EXPECT_THAT(server.process().Stderr(), HasSubstr("model=event io=io_uring"));
  EXPECT_THAT(server.process().Stderr(), Not(HasSubstr("overload_policy")));
}

struct TooMany {
  std::string model;
  int workers;
  std::string message;
};

class WorkerCapTest : public ::testing::TestWithParam<TooMany> {};

TEST_P(WorkerCapTest, RefusesWithExit2) {
  const TooMany& c = GetParam();
  Subprocess server(Runfile("server/server"),
                    {"--port=0", "--model=" + c.model, absl::StrCat("--workers=", c.workers)});
  EXPECT_EQ(server.Wait(absl::Seconds(30)), 2);
  EXPECT_THAT(server.Stderr(), HasSubstr(c.message));
}

INSTANTIATE_TEST_SUITE_P(
    Models, WorkerCapTest,
    ::testing::Values(
        TooMany{"classic", 10001, "--workers must be between 0 and 10000 with --model=classic"},
        TooMany{"classic", 100000, "--workers must be between 0 and 10000 with --model=classic"},
        TooMany{"event", 4097, "--workers must be between 0 and 4096 with --model=event"}));

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
}

struct BadFlagfile {
  std::string text;
  std::string message;  // after "error: flagfile PATH:"
};

class FlagfileTest : public ::testing::TestWithParam<BadFlagfile> {};

TEST_P(FlagfileTest, RefusesNamingFileLineAndFlag) {
  static int count = 0;
  const std::string path = TempPath(absl::StrCat("bad", ++count, ".flags"));
  WriteFile(path, GetParam().text);
  Subprocess server(Runfile("server/server"), {"--port=0", "--flagfile=" + path});
  EXPECT_EQ(server.Wait(absl::Seconds(30)), 2);
  EXPECT_THAT(server.Stderr(), HasSubstr("error: flagfile " + path + ":" + GetParam().message));
}

INSTANTIATE_TEST_SUITE_P(
    Lines, FlagfileTest,
    ::testing::Values(
        BadFlagfile{"# typo below\n--idle_timout_ms=1000\n", "2: unknown flag 'idle_timout_ms'"},
        BadFlagfile{"--workers = 2\n", "1: malformed flag name 'workers '"},
        BadFlagfile{"--port=0\nworkers=2\n", "2: not a flag"},
        BadFlagfile{"--workers\n", "1: flag 'workers' needs a value"}));

TEST(FlagfileTest, NestedFlagfileIsCheckedAndAGoodOneApplies) {
  const std::string inner = TempPath("inner.flags");
  const std::string outer = TempPath("outer.flags");
  WriteFile(outer, "--model=classic\n--flagfile=" + inner + "\n");
  WriteFile(inner, "--workrs=3\n");
  Subprocess bad(Runfile("server/server"), {"--port=0", "--flagfile=" + outer});
  EXPECT_EQ(bad.Wait(absl::Seconds(30)), 2);
  EXPECT_THAT(bad.Stderr(), HasSubstr("error: flagfile " + inner + ":1: unknown flag 'workrs'"));

  WriteFile(inner, "# three workers\n--workers=3\n--noreuse_port\n");
  ServerProcess good({"--flagfile=" + outer, "--stats_interval_ms=0"});
  ASSERT_TRUE(good.ok()) << good.process().Stderr();
  EXPECT_EQ(good.Stop(), 0);  // first: then its whole log has been read
  EXPECT_THAT(good.process().Stderr(), HasSubstr("model=classic workers=3"));
}

struct Binary {
  std::string runfile;
  std::string own_flag;  // one of its own flags, which --help must list
};

class HelpTest : public ::testing::TestWithParam<Binary> {
 protected:
  std::pair<std::optional<int>, std::string> Run(const std::string& arg) {
    Subprocess p(Runfile(GetParam().runfile), {arg});
    std::optional<int> code = p.Wait(absl::Seconds(30));
    return {code, p.Stdout()};
  }
};

TEST_P(HelpTest, HelpListsOwnFlagsAndExitsZero) {
  for (const std::string arg : {"-h", "--help"}) {
    auto [code, out] = Run(arg);
    EXPECT_EQ(code, 0) << arg;
    EXPECT_THAT(out, HasSubstr("Usage: ")) << arg;
    EXPECT_THAT(out, HasSubstr("  --" + GetParam().own_flag + "=")) << arg;
    EXPECT_THAT(out, HasSubstr("--helpfull")) << arg;
    // gflags' and glog's flags only behind --helpfull.
    EXPECT_THAT(out, Not(HasSubstr("--tab_completion_columns"))) << arg;
    EXPECT_THAT(out, Not(HasSubstr("--logbuflevel"))) << arg;
  }
  auto [code, full] = Run("--helpfull");
  EXPECT_EQ(code, 0);
  EXPECT_THAT(full, HasSubstr("-tab_completion_columns"));
  EXPECT_THAT(full, HasSubstr("-" + GetParam().own_flag));
}

TEST_P(HelpTest, VersionNamesTheCommit) {
  auto [code, out] = Run("--version");
  EXPECT_EQ(code, 0);
  const std::string name = GetParam().runfile.substr(GetParam().runfile.rfind('/') + 1);
  EXPECT_THAT(out, ::testing::MatchesRegex(name +
                                           " [0-9]+\\.[0-9]+\\.[0-9]+ "
                                           "\\(commit ([0-9a-f]{12}(-dirty)?|unknown)\\)\n"));
}

INSTANTIATE_TEST_SUITE_P(Binaries, HelpTest,
                         ::testing::Values(Binary{"server/server", "workers"},
                                           Binary{"client/client", "port_file"}),
                         [](const ::testing::TestParamInfo<Binary>& info) {
                           return info.param.own_flag == "workers" ? "server" : "client";
                         });

}  // namespace
}  // namespace tests
