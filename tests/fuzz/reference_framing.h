#ifndef TESTS_FUZZ_REFERENCE_FRAMING_H_
#define TESTS_FUZZ_REFERENCE_FRAMING_H_

// The obvious, whole-stream framing that the fuzz targets hold the
// incremental framer and the session to: split at '\n', stop at the first
// line longer than `max_line`, counting its bytes without the terminator
// ("\n" or "\r\n"; an unfinished last line ending in '\r' may still become
// "\r\n", so that '\r' is not counted either).

#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace fuzz {

struct ReferenceFraming {
  std::vector<std::string> lines;  // complete lines, '\n' included
  bool too_long = false;
};

inline ReferenceFraming FrameWholeStream(absl::string_view stream, size_t max_line) {
  ReferenceFraming out;
  size_t start = 0;
  for (;;) {
    const size_t nl = stream.find('\n', start);
    const size_t end = nl == absl::string_view::npos ? stream.size() : nl;
    size_t len = end - start;
    if (len > 0 && stream[end - 1] == '\r') --len;
    if (len > max_line) {
      out.too_long = true;
      return out;
    }
    if (nl == absl::string_view::npos) return out;
    out.lines.emplace_back(stream.substr(start, nl + 1 - start));
    start = nl + 1;
  }
}

// Aborts (the fuzzer's crash signal) with `what` if `ok` is false.
inline void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "invariant violated: %s\n", what);
    std::abort();
  }
}

}  // namespace fuzz

#endif  // TESTS_FUZZ_REFERENCE_FRAMING_H_
