#ifndef TESTS_SERVER_HARNESS_H_
#define TESTS_SERVER_HARNESS_H_

// Helpers for integration tests that drive the real //server and //client
// binaries over loopback: start a server on a free port (--port=0 +
// --port_file, so tests can run in parallel), run the client, and talk to the
// server directly through a raw socket when a test needs byte-level control.

#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "common/subprocess.h"
#include "common/unique_fd.h"
#include "gtest/gtest.h"

namespace tests {

using common::Runfile;
using common::Subprocess;
using common::SubprocessOptions;
using common::TempPath;

class ServerProcess {
 public:
  // Starts the server with `flags` (plus --port_file=..., and --port=0
  // unless `flags` name a port) and waits until it listens. Check ok()
  // before use. `launcher` (a runfile path, e.g. "tests/deny_io_uring"):
  // run the server through that program, which execs it.
  explicit ServerProcess(std::vector<std::string> flags, SubprocessOptions options = {},
                         const std::string& launcher = "");

  bool ok() const { return port_ > 0; }
  int port() const { return port_; }
  const std::string& port_file() const { return port_file_; }
  Subprocess& process() { return *process_; }

  // SIGTERM, then waits; returns the exit code (nullopt on timeout).
  std::optional<int> Stop(absl::Duration timeout = absl::Seconds(30));

  // The "stats: final ..." line logged at shutdown ("" if none).
  std::string FinalStats() const;
  // The value of `key=` in FinalStats(): 0 when the line omits it (the stats
  // line leaves zero counters out), -1 if there is no final line. `key` must
  // be a counter of the stats line (a typo fails the test).
  long long FinalStat(const std::string& key) const;

 private:
  std::string port_file_;
  std::unique_ptr<Subprocess> process_;
  int port_ = 0;
};

// The server flags a BothModels parameter stands for: "event" (epoll),
// "event_uring" (the event model on --io=io_uring) or "classic".
std::vector<std::string> ModelFlags(const std::string& param);

// Base of the suites that run every scenario against both scheduling
// models, the event model on both of its backends: the test parameter is
// "event", "event_uring" or "classic" (see ModelFlags).
// Instantiate with INSTANTIATE_FOR_BOTH_MODELS(Suite).
class BothModels : public ::testing::TestWithParam<std::string> {
 protected:
  bool classic() const { return GetParam() == "classic"; }
  // Starts a server with the model under test, no periodic stats, and
  // `flags` (later flags win); expects it to come up.
  std::unique_ptr<ServerProcess> Start(std::vector<std::string> flags,
                                       SubprocessOptions options = {});
};

#define INSTANTIATE_FOR_BOTH_MODELS(suite)                                          \
  INSTANTIATE_TEST_SUITE_P(Models, suite,                                           \
                           ::testing::Values("event", "event_uring", "classic"),    \
                           [](const ::testing::TestParamInfo<std::string>& info) {  \
                             return info.param;                                     \
                           })

// Whether this build (and so the server binary the tests run) is sanitized:
// memory figures are then the sanitizer's, and address-space limits break it.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
inline constexpr bool kSanitized = true;
#else
inline constexpr bool kSanitized = false;
#endif

struct ClientResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// A loopback port that was free a moment ago, for programs that cannot bind
// port 0 and say which port they got (Prometheus, systemd-socket-activate).
int FreePort();

// One HTTP/1.0 GET on loopback: the status code (-1 if no response) and body.
struct HttpResponse {
  int status = -1;
  std::string body;
};
HttpResponse HttpGet(int port, const std::string& path);

// Bytes the kernel holds in the send and receive queues of this host's TCP
// sockets whose local port is `port` (a server's side of its connections),
// from /proc/net/tcp and tcp6.
int64_t KernelQueuedBytes(int port);

// Whether the server still serves: a new client gets `line` echoed.
bool ServesOneMore(const ServerProcess& server, const std::string& line = "still alive");

// Runs //client with `args` and waits for it (up to 60 s).
ClientResult RunClient(const std::vector<std::string>& args,
                       std::optional<std::string> stdin_data = std::nullopt);
std::unique_ptr<Subprocess> StartClient(const std::vector<std::string>& args,
                                        std::optional<std::string> stdin_data = std::nullopt);

// A raw loopback connection to the server, for byte-exact tests.
class RawClient {
 public:
  explicit RawClient(int port, const std::string& host = "127.0.0.1");
  bool connected() const { return socket_.valid(); }
  bool Send(const std::string& bytes);
  // Like Send, but gives up after `timeout` (a peer that stopped reading).
  bool SendFor(const std::string& bytes, absl::Duration timeout);
  // Sends one byte as TCP urgent data (MSG_OOB), as telnet's "synch" does.
  bool SendUrgent(char byte);
  // Sends what the kernel takes right now without waiting; returns how much.
  size_t SendNow(const std::string& bytes);
  // Receives up to `max` bytes already arrived, without waiting; -1 once the
  // server closed (EOF or reset).
  long RecvNow(size_t max);
  // Whether the server has closed or reset the connection, without reading
  // anything (a client that never reads must not make progress).
  bool ClosedByServer();
  // Reads one line (through '\n') within `timeout`; "" on EOF/timeout.
  std::string ReadLine(absl::Duration timeout = absl::Seconds(10));
  // Reads until EOF (or timeout); returns everything read.
  std::string ReadAll(absl::Duration timeout = absl::Seconds(10));
  // True if nothing arrives within `wait` (and the connection is open).
  bool Quiet(absl::Duration wait);
  void ShutdownWrite();
  void Reset();  // abortive close (RST)
  void Close() { socket_.Reset(); }

 private:
  common::UniqueFd socket_;
  std::string buffer_;
};

}  // namespace tests

#endif  // TESTS_SERVER_HARNESS_H_
