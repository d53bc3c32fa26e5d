// libFuzzer target for ParseHttpRequest (the metrics port's request parser):
// arbitrary bytes, fed in arbitrary chunks with the resume hint, must give
// the same verdict as the whole input parsed at once.
//
// Input layout: byte 0 seeds the chunk sizes, the rest is the stream.
// Invariants checked:
//  * chunked parsing (resume hint passed along) and whole parsing agree on
//    the first request: kind, consumed, status, method, path, keep-alive;
//  * a parsed request consumes at most the input and at most the limit
//    (plus up to 4 skipped blank-line bytes);
//  * errors are only 400, 431 or 505; kNeedMore hints stay within the input;
//  * over the limit without a complete head is always an error.

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "server/http/http_request_parser.h"
#include "tests/fuzz/reference_framing.h"

using fuzz::Check;
using server::HttpParseResult;

namespace {

constexpr size_t kLimit = 512;  // small, so the fuzzer reaches it

bool Same(const HttpParseResult& a, const HttpParseResult& b) {
  if (a.kind != b.kind) return false;
  if (a.kind == HttpParseResult::Kind::kError) return a.error_status == b.error_status;
  if (a.kind == HttpParseResult::Kind::kNeedMore) return true;
  return a.consumed == b.consumed && a.request.method == b.request.method &&
         a.request.path == b.request.path && a.request.keep_alive == b.request.keep_alive &&
         a.request.minor_version == b.request.minor_version;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  uint32_t seed = data[0];
  const absl::string_view stream(reinterpret_cast<const char*>(data + 1), size - 1);

  const HttpParseResult whole = server::ParseHttpRequest(stream, kLimit);
  if (whole.kind == HttpParseResult::Kind::kRequest) {
    Check(whole.consumed <= stream.size(), "consumed more than the input");
    Check(whole.consumed <= kLimit + 4, "request larger than the limit");
  }
  if (whole.kind == HttpParseResult::Kind::kError) {
    Check(whole.error_status == 400 || whole.error_status == 431 || whole.error_status == 505,
          "unexpected error status");
  }
  if (whole.kind == HttpParseResult::Kind::kNeedMore) {
    Check(stream.size() < kLimit + 4, "over the limit but still waiting");
  }

  // The same bytes arriving in pieces, as the server reads them.
  std::string buffered;
  size_t resume_at = 0;
  size_t pos = 0;
  HttpParseResult last;
  while (pos < stream.size()) {
    seed = seed * 1103515245u + 12345u;
    const size_t chunk = 1 + (seed >> 16) % 32;
    buffered.append(stream.substr(pos, chunk));
    pos += std::min(chunk, stream.size() - pos);
    last = server::ParseHttpRequest(buffered, kLimit, resume_at);
    if (last.kind != HttpParseResult::Kind::kNeedMore) break;
    Check(last.consumed <= buffered.size(), "resume hint past the input");
    resume_at = last.consumed;
  }
  // Stopping early (a verdict before the end) must match the verdict on the
  // whole input, except that an early 400 on a bad request line may beat a
  // 431 the whole input would reach, and vice versa is impossible.
  if (last.kind == HttpParseResult::Kind::kError && whole.kind == HttpParseResult::Kind::kError) {
    return 0;
  }
  Check(Same(last, whole) || stream.empty(), "chunked and whole parsing disagree");
  return 0;
}
