#include "common/line_framer.h"

#include <cstring>

#include "glog/logging.h"

namespace common {

namespace {

// Content length of a line of `len` bytes ending at `last` (its last byte,
// not counting a '\n'): a trailing '\r' is part of the terminator.
size_t ContentBytes(size_t len, char last) { return len > 0 && last == '\r' ? len - 1 : len; }

}  // namespace

LineFramer::LineFramer(size_t max_line_bytes) : max_line_bytes_(max_line_bytes) {
  CHECK_GT(max_line_bytes, 0u);
}

bool LineFramer::Fits(absl::string_view tail) const {
  const size_t len = pending_.size() + tail.size();
  const char last = !tail.empty() ? tail.back() : (pending_.empty() ? '\0' : pending_.back());
  return ContentBytes(len, last) <= max_line_bytes_;
}

bool LineFramer::Feed(absl::string_view data,
                      absl::FunctionRef<void(absl::string_view)> on_line) {
  if (failed_) return false;
  while (!data.empty()) {
    const void* nl_ptr = std::memchr(data.data(), '\n', data.size());
    if (nl_ptr == nullptr) {
      // A trailing '\r' may still turn out to be half of "\r\n".
      if (!Fits(data)) {
        failed_ = true;
        pending_.clear();
        return false;
      }
      pending_.append(data.data(), data.size());
      return true;
    }
    const size_t line_len = static_cast<const char*>(nl_ptr) - data.data() + 1;
    if (!Fits(data.substr(0, line_len - 1))) {
      failed_ = true;
      pending_.clear();
      return false;
    }
    if (pending_.empty()) {
      on_line(data.substr(0, line_len));
    } else {
      pending_.append(data.data(), line_len);
      on_line(pending_);
      pending_.clear();
    }
    data.remove_prefix(line_len);
  }
  return true;
}

size_t LineFramer::buffer_capacity() const {
  // An empty std::string's capacity is its inline buffer: no heap.
  return pending_.capacity() > std::string().capacity() ? pending_.capacity() : 0;
}

void LineFramer::ReleaseMemoryIfEmpty() {
  if (pending_.empty() && pending_.capacity() > 0) {
    std::string().swap(pending_);
  }
}

}  // namespace common
