// The real client binary's port flags: an impossible --port, --port with
// --port_file, a port file that is a directory or holds garbage are refused
// at once with their exit codes; a port file that never appears times out;
// and the server removes its port file when it exits.

#include <sys/stat.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/server_harness.h"

namespace tests {
namespace {

using ::testing::HasSubstr;

TEST(ClientPortTest, ImpossiblePortsAreUsageErrors) {
  for (const std::string port : {"99999", "-1", "0", "65536"}) {
    ClientResult r = RunClient({"--port=" + port, "x"});
    EXPECT_EQ(r.exit_code, 2) << port;
    EXPECT_THAT(r.err, HasSubstr("--port must be between 1 and 65535 (got " + port + ")"));
  }
  ClientResult both = RunClient({"--port=8888", "--port_file=/tmp/p", "x"});
  EXPECT_EQ(both.exit_code, 2);
  EXPECT_THAT(both.err, HasSubstr("--port and --port_file exclude each other"));
}

TEST(ClientPortTest, BadPortFileIsNamedAtOnce) {
  const std::string dir = TempPath("port_dir");
  ::mkdir(dir.c_str(), 0700);
  const std::string garbage = TempPath("garbage.port");
  std::ofstream(garbage) << "not a port\n";
  // A generous timeout the client must not wait out.
  const absl::Time start = absl::Now();
  ClientResult d = RunClient({"--port_file=" + dir, "--timeout_ms=60000", "x"});
  EXPECT_EQ(d.exit_code, 1);
  EXPECT_THAT(d.err, HasSubstr("is a directory, not a port file"));
  ClientResult g = RunClient({"--port_file=" + garbage, "--timeout_ms=60000", "x"});
  EXPECT_EQ(g.exit_code, 1);
  EXPECT_THAT(g.err, HasSubstr("holds 'not a port?', not a port number"));
  EXPECT_LT(absl::Now() - start, absl::Seconds(50)) << "waited for the timeout";

  const std::string missing = TempPath("missing.port");
  std::remove(missing.c_str());
  ClientResult m = RunClient({"--port_file=" + missing, "--timeout_ms=200", "x"});
  EXPECT_EQ(m.exit_code, 4);
  EXPECT_THAT(m.err, HasSubstr("did not appear within --timeout_ms"));
}

TEST(ClientPortTest, PortFileWorksAndTheServerRemovesItAtExit) {
  ServerProcess server({"--stats_interval_ms=0"});
  ASSERT_TRUE(server.ok());
  ClientResult r = RunClient({"--port_file=" + server.port_file(), "--quiet", "hello"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "ok ...hello\n");
  EXPECT_EQ(server.Stop(), 0);
  struct stat st;
  EXPECT_NE(::stat(server.port_file().c_str(), &st), 0) << "port file left behind";
}

}  // namespace
}  // namespace tests
