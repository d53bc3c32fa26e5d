// Scale-out with nothing lost: several instances of the real server behind
// the real HAProxy (deploy/haproxy.cfg, ports moved to free ones), and two
// instances sharing one port with SO_REUSEPORT, each restarted in turn while
// clients keep talking. A client may see its session end with a closing line
// (bye, busy) and then reconnects; it must never see a refused or reset
// connection, an EOF without a closing line, a timeout or a wrong byte. The
// load client (client --load --reconnect) counts each of those separately.

#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/server_harness.h"

namespace tests {
namespace {

// The integer value of "key" in the load client's one-line JSON report.
long long JsonField(const std::string& json, const std::string& key) {
  const std::string quoted = "\"" + key + "\":";
  const size_t at = json.find(quoted);
  if (at == std::string::npos) return -1;
  const size_t start = at + quoted.size();
  long long value = -1;
  if (!absl::SimpleAtoi(json.substr(start, json.find_first_of(",}", start) - start), &value)) {
    return -1;
  }
  return value;
}

// Checks the load client's report: it talked, and saw no failure of any kind.
void ExpectNothingLost(const std::string& report, const std::string& what) {
  SCOPED_TRACE(what + ": " + report);
  std::cout << what << ": " << JsonField(report, "round_trips") << " lines answered, "
            << JsonField(report, "sessions") << " sessions, "
            << JsonField(report, "server_closed") + JsonField(report, "busy")
            << " ended by a closing line (then reconnected)" << std::endl;
  EXPECT_GT(JsonField(report, "round_trips"), 1000);
  for (const char* failure : {"connect_failures", "timeouts", "mismatches", "eofs", "resets"}) {
    EXPECT_EQ(JsonField(report, failure), 0) << failure;
  }
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Restarts `instances[i]` in turn: SIGTERM, wait for a clean exit, start it
// again with the same flags, pause. Returns false (with a test failure) if
// an instance misbehaves.
void RollingRestart(std::vector<std::unique_ptr<ServerProcess>>& instances,
                    const std::vector<std::vector<std::string>>& flags, absl::Duration pause) {
  for (size_t i = 0; i < instances.size(); ++i) {
    absl::SleepFor(pause);
    EXPECT_EQ(instances[i]->Stop(), 0) << "instance " << i;
    instances[i] = std::make_unique<ServerProcess>(flags[i]);
    ASSERT_TRUE(instances[i]->ok()) << "instance " << i << " did not restart: "
                                    << instances[i]->process().Stderr();
  }
  absl::SleepFor(pause);
}

TEST(ScaleOut, RollingRestartBehindHaproxyLosesNoClient) {
  const int front = FreePort();
  std::vector<int> ports;
  while (ports.size() < 3) {
    const int p = FreePort();
    if (p != front && std::find(ports.begin(), ports.end(), p) == ports.end()) ports.push_back(p);
  }
  // deploy/haproxy.cfg as shipped, on these ports.
  std::string config = ReadFile(Runfile("deploy/haproxy.cfg"));
  ASSERT_NE(config.find("127.0.0.1:8883"), std::string::npos);
  config = absl::StrReplaceAll(config, {{"127.0.0.1:8880", absl::StrCat("127.0.0.1:", front)},
                                        {"127.0.0.1:8881", absl::StrCat("127.0.0.1:", ports[0])},
                                        {"127.0.0.1:8882", absl::StrCat("127.0.0.1:", ports[1])},
                                        {"127.0.0.1:8883", absl::StrCat("127.0.0.1:", ports[2])}});
  const std::string config_path = TempPath("haproxy.cfg");
  std::ofstream(config_path) << config;

  // Each server drains longer than HAProxy's checks need to mark it down
  // (inter 1s x fall 2 in the config).
  std::vector<std::vector<std::string>> flags;
  std::vector<std::unique_ptr<ServerProcess>> instances;
  for (int port : ports) {
    flags.push_back({absl::StrCat("--port=", port), "--proxy_protocol=v2",
                     "--drain_delay_ms=3000", "--shutdown_grace_ms=3000",
                     "--stats_interval_ms=0"});
    instances.push_back(std::make_unique<ServerProcess>(flags.back()));
    ASSERT_TRUE(instances.back()->ok()) << instances.back()->process().Stderr();
  }
  Subprocess haproxy("/usr/sbin/haproxy", {"-db", "-f", config_path});
  std::unique_ptr<RawClient> probe;
  for (int i = 0; i < 100 && (probe == nullptr || !probe->connected()); ++i) {
    absl::SleepFor(absl::Milliseconds(50));
    probe = std::make_unique<RawClient>(front);
  }
  ASSERT_TRUE(probe->connected()) << haproxy.Stdout() << haproxy.Stderr();
  ASSERT_EQ(probe->ReadLine(), "welcome to server.\r\n");
  probe.reset();

  // Clients that come and go (a few hundred lines per connection), and
  // clients that stay: HAProxy stops sending new ones to a draining server,
  // so the first kind has usually moved on before it stops; the second is
  // told "bye" and reconnects.
  auto churning = StartClient({absl::StrCat("--port=", front), "--load", "--connections=24",
                               "--duration_ms=26000", "--disconnect_probability=0.005",
                               "--reconnect", "--timeout_ms=10000", "--json", "--progress=false"});
  auto staying = StartClient({absl::StrCat("--port=", front), "--load", "--connections=8",
                              "--duration_ms=26000", "--reconnect", "--timeout_ms=10000", "--json",
                              "--progress=false"});
  RollingRestart(instances, flags, absl::Seconds(2));
  ASSERT_TRUE(churning->Wait(absl::Seconds(120)).has_value());
  ASSERT_TRUE(staying->Wait(absl::Seconds(120)).has_value());
  ExpectNothingLost(churning->Stdout(), "through HAProxy, coming and going");
  ExpectNothingLost(staying->Stdout(), "through HAProxy, staying");
  EXPECT_GT(JsonField(staying->Stdout(), "server_closed"), 0) << "no restart ended a session?";
  haproxy.Signal(SIGTERM);
  haproxy.Wait(absl::Seconds(10));
  for (auto& instance : instances) EXPECT_EQ(instance->Stop(), 0);
}

// Linux moves the connections waiting in a closing SO_REUSEPORT listener's
// accept queue to a sibling only with net.ipv4.tcp_migrate_req=1 (5.14+);
// without it they are reset. This test turns it on for its duration.
class MigrateRequests {
 public:
  MigrateRequests() {
    std::ifstream in(kPath);
    ok_ = static_cast<bool>(in >> old_);
    if (ok_) ok_ = static_cast<bool>(std::ofstream(kPath) << 1);
  }
  ~MigrateRequests() {
    if (ok_) std::ofstream(kPath) << old_;
  }
  bool ok() const { return ok_; }

 private:
  static constexpr const char* kPath = "/proc/sys/net/ipv4/tcp_migrate_req";
  bool ok_ = false;
  int old_ = 0;
};

TEST(ScaleOut, ReusePortRollingRestartUnderChurnLosesNoClient) {
  MigrateRequests migrate;
  if (!migrate.ok()) GTEST_SKIP() << "cannot set net.ipv4.tcp_migrate_req (not root?)";
  const int port = FreePort();
  std::vector<std::vector<std::string>> flags;
  std::vector<std::unique_ptr<ServerProcess>> instances;
  for (int i = 0; i < 2; ++i) {
    flags.push_back({absl::StrCat("--port=", port), "--reuse_port", "--shutdown_grace_ms=3000",
                     "--stats_interval_ms=0"});
    instances.push_back(std::make_unique<ServerProcess>(flags.back()));
    ASSERT_TRUE(instances.back()->ok()) << instances.back()->process().Stderr();
  }
  // Churn: each connection talks a few lines, then closes and reconnects.
  auto load = StartClient({absl::StrCat("--port=", port), "--load", "--connections=16",
                           "--duration_ms=12000", "--disconnect_probability=0.3", "--reconnect",
                           "--timeout_ms=10000", "--json", "--progress=false"});
  RollingRestart(instances, flags, absl::Seconds(3));
  ASSERT_TRUE(load->Wait(absl::Seconds(120)).has_value());
  ExpectNothingLost(load->Stdout(), "two --reuse_port instances restarted in turn");
  EXPECT_GT(JsonField(load->Stdout(), "server_closed"), 0) << "no restart ended a session?";
  for (auto& instance : instances) EXPECT_EQ(instance->Stop(), 0);
}

}  // namespace
}  // namespace tests
