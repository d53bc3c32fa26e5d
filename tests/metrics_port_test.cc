// The metrics port's HTTP server (server/http/) under hostile and unusual
// clients, through the real server binary: a thousand idle connections do
// not delay the probes, slowloris senders are closed after the header
// timeout, garbage and oversized heads get 400 and 431, pipelined requests
// are answered in order with HEAD bodiless, and the server keeps serving
// probes after all of it. Both scheduling models (the endpoint is the same;
// the server around it is not).

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/fd_limit.h"
#include "common/port_file.h"
#include "gtest/gtest.h"
#include "tests/server_harness.h"

namespace tests {
namespace {

// One response cut from the front of `raw`; false if none is complete.
struct Parsed {
  int status = 0;
  std::string head;
  std::string body;
};
bool TakeResponse(std::string& raw, bool head_request, Parsed& out) {
  const size_t end = raw.find("\r\n\r\n");
  if (end == std::string::npos || raw.size() < 12) return false;
  out.head = raw.substr(0, end);
  if (!absl::SimpleAtoi(raw.substr(9, 3), &out.status)) return false;
  size_t length = 0;
  const size_t at = out.head.find("Content-Length: ");
  if (at == std::string::npos ||
      !absl::SimpleAtoi(out.head.substr(at + 16, out.head.find("\r\n", at) - at - 16), &length)) {
    return false;
  }
  const size_t body = head_request ? 0 : length;
  if (raw.size() < end + 4 + body) return false;
  out.body = raw.substr(end + 4, body);
  raw.erase(0, end + 4 + body);
  return true;
}

class MetricsPort : public BothModels {
 protected:
  void SetUp() override {
    common::RaiseFdLimitToMax();
    port_file_ = TempPath(absl::StrCat("metrics_port_test", ::getpid(), ".port"));
    std::remove(port_file_.c_str());
    server_ = Start({"--metrics_port_file=" + port_file_});
    ASSERT_TRUE(server_->ok());
    auto port = common::WaitForPortFile(port_file_, absl::Now() + absl::Seconds(10),
                                        [] { return true; });
    ASSERT_TRUE(port.ok()) << port.status();
    port_ = *port;
  }
  void TearDown() override {
    if (server_ != nullptr) {
      EXPECT_EQ(server_->Stop(), 0);
    }
    std::remove(port_file_.c_str());
  }

  std::string port_file_;
  std::unique_ptr<ServerProcess> server_;
  int port_ = -1;
};

// civetweb's 8 threads took 2 s per 8 such connections, so 1,000 of them
// delayed a probe by minutes; one event loop answers at once.
TEST_P(MetricsPort, ThousandIdleConnectionsDoNotDelayProbes) {
  std::vector<std::unique_ptr<RawClient>> idle;
  for (int i = 0; i < 1000; ++i) {
    idle.push_back(std::make_unique<RawClient>(port_));
    ASSERT_TRUE(idle.back()->connected()) << i;
    if (i % 2 == 1) {
      ASSERT_TRUE(idle.back()->Send("GET /hea"));
    }
  }
  for (int i = 0; i < 10; ++i) {
    for (const char* path : {"/healthz", "/readyz", "/metrics"}) {
      const absl::Time start = absl::Now();
      const HttpResponse response = HttpGet(port_, path);
      EXPECT_EQ(response.status, 200) << path;
      EXPECT_LT(absl::Now() - start, absl::Seconds(2)) << path;
    }
  }
  // They were held, not dropped to make room.
  int open = 0;
  for (auto& client : idle) open += client->ClosedByServer() ? 0 : 1;
  EXPECT_EQ(open, 1000);
}

// A client that trickles header bytes is closed once the header timeout
// (10 s) has passed since it connected, however steadily it sends.
TEST_P(MetricsPort, SlowlorisIsClosedAfterTheHeaderTimeout) {
  RawClient slow(port_);
  ASSERT_TRUE(slow.Send("GET /healthz HTTP/1.1\r\n"));
  const absl::Time start = absl::Now();
  bool closed = false;
  while (!closed && absl::Now() - start < absl::Seconds(20)) {
    absl::SleepFor(absl::Milliseconds(500));
    closed = slow.ClosedByServer() || !slow.SendFor("X-Slow: 1\r\n", absl::Seconds(1));
  }
  EXPECT_TRUE(closed);
  EXPECT_GE(absl::Now() - start, absl::Seconds(9));
  EXPECT_EQ(HttpGet(port_, "/healthz").status, 200);
}

TEST_P(MetricsPort, GarbageGets400AndTheConnectionCloses) {
  RawClient binary(port_);
  ASSERT_TRUE(binary.Send(std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11)));
  EXPECT_TRUE(absl::StartsWith(binary.ReadAll(), "HTTP/1.1 400 Bad Request\r\n"));
  RawClient words(port_);
  ASSERT_TRUE(words.Send("hello metrics port\r\n\r\n"));
  const std::string reply = words.ReadAll();
  EXPECT_TRUE(absl::StartsWith(reply, "HTTP/1.1 400 ")) << reply;
  EXPECT_TRUE(absl::StrContains(reply, "Connection: close\r\n")) << reply;
  EXPECT_EQ(HttpGet(port_, "/healthz").status, 200);
}

TEST_P(MetricsPort, HugeHeaderGets431) {
  RawClient huge(port_);
  ASSERT_TRUE(huge.Send(absl::StrCat("GET /healthz HTTP/1.1\r\nX-Big: ", std::string(20000, 'a'),
                                     "\r\n\r\n")));
  const std::string reply = huge.ReadAll();
  EXPECT_TRUE(absl::StartsWith(reply, "HTTP/1.1 431 ")) << reply.substr(0, 100);
  EXPECT_EQ(HttpGet(port_, "/healthz").status, 200);
}

// 400 requests in one write: every one answered, in order, on the one
// connection; HEAD gets the head only; other methods 405, unknown paths 404.
TEST_P(MetricsPort, PipelinedRequestsAreAnsweredInOrder) {
  struct Expect {
    const char* request;
    bool head;
    int status;
    const char* body;
  };
  const Expect kinds[] = {
      {"GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n", false, 200, "ok\n"},
      {"HEAD /readyz HTTP/1.1\r\nHost: a\r\n\r\n", true, 200, ""},
      {"GET /nope HTTP/1.1\r\n\r\n", false, 404, "Not Found\n"},
      {"DELETE /healthz HTTP/1.1\r\n\r\n", false, 405, "Method Not Allowed\n"},
      {"GET /readyz HTTP/1.1\r\n\r\n", false, 200, "ready\n"},
  };
  constexpr int kCount = 400;
  std::string requests;
  for (int i = 0; i < kCount; ++i) requests += kinds[i % 5].request;
  requests += "GET /metrics HTTP/1.1\r\nConnection: close\r\n\r\n";
  RawClient client(port_);
  ASSERT_TRUE(client.Send(requests));
  std::string raw = client.ReadAll(absl::Seconds(20));
  for (int i = 0; i < kCount; ++i) {
    const Expect& want = kinds[i % 5];
    Parsed got;
    ASSERT_TRUE(TakeResponse(raw, want.head, got)) << "response " << i;
    EXPECT_EQ(got.status, want.status) << i;
    EXPECT_EQ(got.body, want.body) << i;
    if (want.status == 405) {
      EXPECT_TRUE(absl::StrContains(got.head, "Allow: GET, HEAD"));
    }
  }
  Parsed last;
  ASSERT_TRUE(TakeResponse(raw, false, last));
  EXPECT_EQ(last.status, 200);
  EXPECT_TRUE(absl::StrContains(last.head, "Content-Type: text/plain; version=0.0.4"));
  EXPECT_TRUE(absl::StrContains(last.head, "Connection: close"));
  EXPECT_TRUE(absl::StrContains(last.body, "# TYPE echo_server_lines_total counter"))
      << last.body.substr(0, 500);
  EXPECT_EQ(raw, "");  // nothing after the closing response, then EOF
}

// A client that sends requests and never reads its responses is not answered
// past the output cap and does not keep the probes from others.
TEST_P(MetricsPort, ClientThatNeverReadsDoesNotBlockOthers) {
  RawClient hog(port_);
  std::string many;
  for (int i = 0; i < 200; ++i) many += "GET /metrics HTTP/1.1\r\n\r\n";
  for (int i = 0; i < 50; ++i) {
    if (hog.SendNow(many) == 0) break;  // the server stopped reading
  }
  for (int i = 0; i < 5; ++i) EXPECT_EQ(HttpGet(port_, "/healthz").status, 200);
}

INSTANTIATE_FOR_BOTH_MODELS(MetricsPort);

}  // namespace
}  // namespace tests
