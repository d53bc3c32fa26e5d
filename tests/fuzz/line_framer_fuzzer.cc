// libFuzzer target for LineFramer: arbitrary bytes, split at arbitrary
// points, must frame exactly as a reference splitter does.
//
// Input layout: byte 0 picks max_line_bytes (1..256), byte 1 seeds the chunk
// sizes, the rest is the stream. Invariants checked:
//  * every complete line comes back exactly once, in order, byte-exact,
//    until the first line longer than the bound; then the framer fails;
//  * the framer never holds more than max_line_bytes of a partial line.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "common/line_framer.h"
#include "tests/fuzz/reference_framing.h"

using fuzz::Check;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const size_t max_line = 1 + data[0];
  uint32_t seed = data[1];
  const absl::string_view stream(reinterpret_cast<const char*>(data + 2), size - 2);

  const fuzz::ReferenceFraming expected = fuzz::FrameWholeStream(stream, max_line);

  common::LineFramer framer(max_line);
  std::vector<std::string> got;
  bool failed = false;
  size_t pos = 0;
  while (pos < stream.size()) {
    seed = seed * 1103515245u + 12345u;
    const size_t chunk = 1 + (seed >> 16) % 64;
    const absl::string_view piece = stream.substr(pos, chunk);
    pos += piece.size();
    if (!framer.Feed(piece, [&](absl::string_view line) { got.emplace_back(line); })) {
      failed = true;
      break;
    }
    // The bound, plus a final '\r' that may be half of "\r\n".
    Check(framer.pending_bytes() <= max_line + 1, "partial line exceeds the bound");
  }
  Check(failed == expected.too_long, "failure state differs from the reference");
  Check(got == expected.lines, "lines differ from the reference");
  return 0;
}
