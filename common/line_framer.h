#ifndef COMMON_LINE_FRAMER_H_
#define COMMON_LINE_FRAMER_H_

// LineFramer: splits a byte stream into '\n'-terminated lines, incrementally
// and within a fixed memory bound.
//
// Bytes are opaque: anything but '\n' (NUL, '\r', invalid UTF-8) is line
// content. A delivered line includes its '\n' (and a preceding '\r' if the
// peer sent one), so an echo of it is byte-exact.
//
// Bound: a line may hold at most `max_line_bytes` bytes of content, counted
// without its terminator ("\n", or "\r\n" as telnet sends), so a telnet
// user's line of exactly the limit is accepted. The framer buffers only the
// unfinished tail of the stream, never more than that bound plus a possible
// '\r'; a longer line puts the framer in the failed state for good, and the
// caller reports the error and closes. Lines completed before the overlong
// one in the same Feed() are still delivered, so no finished work is lost.
//
// Lines that arrive whole inside one Feed() are passed as views into the
// caller's buffer (no copy); only a line split across reads is assembled in
// the framer's own buffer.
//
// Thread safety: none; one framer belongs to one session.

#include <cstddef>
#include <string>

#include "absl/functional/function_ref.h"
#include "absl/strings/string_view.h"

namespace common {

class LineFramer {
 public:
  explicit LineFramer(size_t max_line_bytes);

  // Consumes `data`, calling `on_line` for each completed line, in order. The
  // view passed to `on_line` is valid only during that call. Returns false if
  // the framer is (or just became) failed.
  bool Feed(absl::string_view data, absl::FunctionRef<void(absl::string_view)> on_line);

  // Bytes of an unfinished line held since the last '\n'.
  size_t pending_bytes() const { return pending_.size(); }
  // Heap memory held for it (0 once ReleaseMemoryIfEmpty() freed it).
  size_t buffer_capacity() const;
  bool failed() const { return failed_; }
  size_t max_line_bytes() const { return max_line_bytes_; }

  // Frees the buffer's memory if no partial line is held, so an idle
  // connection costs almost nothing.
  void ReleaseMemoryIfEmpty();

 private:
  // Whether pending_ + `tail` (no '\n' in it) is within the bound.
  bool Fits(absl::string_view tail) const;

  const size_t max_line_bytes_;
  std::string pending_;
  bool failed_ = false;
};

}  // namespace common

#endif  // COMMON_LINE_FRAMER_H_
