#include "server/http/http_request_parser.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace server {
namespace {

using Kind = HttpParseResult::Kind;

constexpr size_t kLimit = 8 * 1024;

struct Case {
  const char* name;
  std::string input;
  Kind kind;
  int error_status = 0;       // for kError
  const char* method = "";    // for kRequest
  const char* path = "";
  bool keep_alive = true;
};

TEST(HttpRequestParserTest, Table) {
  const Case cases[] = {
      {"get 1.1", "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", Kind::kRequest, 0, "GET", "/healthz",
       true},
      {"bare LF", "GET /metrics HTTP/1.1\nHost: x\n\n", Kind::kRequest, 0, "GET", "/metrics", true},
      {"no headers", "HEAD /readyz HTTP/1.1\r\n\r\n", Kind::kRequest, 0, "HEAD", "/readyz", true},
      {"query dropped", "GET /metrics?x=1 HTTP/1.1\r\n\r\n", Kind::kRequest, 0, "GET",
       "/metrics", true},
      {"1.0 closes", "GET / HTTP/1.0\r\n\r\n", Kind::kRequest, 0, "GET", "/", false},
      {"connection close", "GET / HTTP/1.1\r\nConnection: keep-alive, Close\r\n\r\n",
       Kind::kRequest, 0, "GET", "/", false},
      {"1.0 keep-alive still closes", "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
       Kind::kRequest, 0, "GET", "/", false},
      {"leading blank line", "\r\nGET / HTTP/1.1\r\n\r\n", Kind::kRequest, 0, "GET", "/", true},
      {"other method parses", "POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n", Kind::kRequest, 0,
       "POST", "/", true},
      {"partial line", "GET /hea", Kind::kNeedMore},
      {"partial head", "GET / HTTP/1.1\r\nHost: x\r\n", Kind::kNeedMore},
      {"empty", "", Kind::kNeedMore},
      {"garbage line", "hello there\r\n\r\n", Kind::kError, 400},
      {"binary", std::string("\x16\x03\x01\x02\x00", 5), Kind::kError, 400},
      {"tls hello without LF", std::string("\x16\x03\x01", 3), Kind::kError, 400},
      {"nul in line", std::string("GET /\0 HTTP/1.1\r\n\r\n", 19), Kind::kError, 400},
      {"two spaces", "GET  / HTTP/1.1\r\n\r\n", Kind::kError, 400},
      {"absolute form", "GET http://x/ HTTP/1.1\r\n\r\n", Kind::kError, 400},
      {"no version", "GET /\r\n\r\n", Kind::kError, 400},
      {"http 2", "GET / HTTP/2.0\r\n\r\n", Kind::kError, 505},
      {"lowercase version", "GET / http/1.1\r\n\r\n", Kind::kError, 400},
      {"no colon", "GET / HTTP/1.1\r\nHost x\r\n\r\n", Kind::kError, 400},
      {"space before colon", "GET / HTTP/1.1\r\nHost : x\r\n\r\n", Kind::kError, 400},
      {"folded header", "GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n", Kind::kError, 400},
      {"control char in value", "GET / HTTP/1.1\r\nA: b\x01\r\n\r\n", Kind::kError, 400},
      {"bare CR in value", "GET / HTTP/1.1\r\nA: b\rc\r\n\r\n", Kind::kError, 400},
      {"body", "GET / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello", Kind::kError, 400},
      {"chunked", "GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", Kind::kError, 400},
      {"huge header", absl::StrCat("GET / HTTP/1.1\r\nX: ", std::string(kLimit, 'a'), "\r\n\r\n"),
       Kind::kError, 431},
      {"huge and incomplete", absl::StrCat("GET / HTTP/1.1\r\nX: ", std::string(kLimit, 'a')),
       Kind::kError, 431},
      {"huge request line", absl::StrCat("GET /", std::string(kLimit, 'a')), Kind::kError, 431},
      {"many fields", absl::StrCat("GET / HTTP/1.1\r\n", [] {
         std::string s;
         for (size_t i = 0; i <= kMaxHeaderFields; ++i) absl::StrAppend(&s, "A", i, ": b\r\n");
         return s;
       }(), "\r\n"),
       Kind::kError, 431},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const HttpParseResult r = ParseHttpRequest(c.input, kLimit);
    ASSERT_EQ(r.kind, c.kind);
    if (c.kind == Kind::kError) {
      EXPECT_EQ(r.error_status, c.error_status);
    }
    if (c.kind == Kind::kRequest) {
      EXPECT_EQ(r.request.method, c.method);
      EXPECT_EQ(r.request.path, c.path);
      EXPECT_EQ(r.request.keep_alive, c.keep_alive);
      EXPECT_EQ(r.consumed, c.input.size());
    }
  }
}

TEST(HttpRequestParserTest, PipelinedRequestsComeOneAtATime) {
  const std::string input =
      "GET /a HTTP/1.1\r\n\r\nHEAD /b HTTP/1.1\r\nX: y\r\n\r\nGET /c HTTP/1.1\r\n";
  HttpParseResult first = ParseHttpRequest(input, kLimit);
  ASSERT_EQ(first.kind, Kind::kRequest);
  EXPECT_EQ(first.request.path, "/a");
  const std::string rest = input.substr(first.consumed);
  HttpParseResult second = ParseHttpRequest(rest, kLimit);
  ASSERT_EQ(second.kind, Kind::kRequest);
  EXPECT_EQ(second.request.method, "HEAD");
  EXPECT_EQ(second.request.path, "/b");
  EXPECT_EQ(ParseHttpRequest(rest.substr(second.consumed), kLimit).kind, Kind::kNeedMore);
}

// Byte by byte, passing the resume hint along, gives the same request as all
// at once, and never an early error.
TEST(HttpRequestParserTest, DripFedWithResumeHint) {
  const std::string request = "GET /healthz HTTP/1.1\r\nHost: a\r\nUser-Agent: kube\r\n\r\n";
  std::string buffered;
  size_t resume_at = 0;
  for (size_t i = 0; i < request.size(); ++i) {
    buffered.push_back(request[i]);
    const HttpParseResult r = ParseHttpRequest(buffered, kLimit, resume_at);
    if (i + 1 < request.size()) {
      ASSERT_EQ(r.kind, Kind::kNeedMore) << i;
      ASSERT_LE(r.consumed, buffered.size());
      resume_at = r.consumed;
    } else {
      ASSERT_EQ(r.kind, Kind::kRequest);
      EXPECT_EQ(r.request.path, "/healthz");
      EXPECT_EQ(r.consumed, request.size());
    }
  }
}

// Every prefix of hostile inputs parses without crashing and with a bounded
// verdict (fuzz-like sweep over all byte values at every position).
TEST(HttpRequestParserTest, EveryByteAtEveryPositionIsHandled) {
  const std::string base = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
  for (size_t at = 0; at < base.size(); ++at) {
    for (int b = 0; b < 256; ++b) {
      std::string input = base;
      input[at] = static_cast<char>(b);
      const HttpParseResult r = ParseHttpRequest(input, kLimit);
      if (r.kind == Kind::kRequest) {
        EXPECT_LE(r.consumed, input.size());
      }
      if (r.kind == Kind::kError) {
        EXPECT_TRUE(r.error_status == 400 || r.error_status == 505) << r.error_status;
      }
    }
  }
}

}  // namespace
}  // namespace server
