#include "common/line_framer.h"

#include <cstring>

#include "glog/logging.h"

namespace common {

LineFramer::LineFramer(size_t max_line_bytes) : max_line_bytes_(max_line_bytes) {
  CHECK_GT(max_line_bytes, 0u);
}

bool LineFramer::Feed(absl::string_view data,
                      absl::FunctionRef<void(absl::string_view)> on_line) {
  if (failed_) return false;
  while (!data.empty()) {
    const void* nl_ptr = std::memchr(data.data(), '\n', data.size());
    if (nl_ptr == nullptr) {
      if (pending_.size() + data.size() > max_line_bytes_) {
        failed_ = true;
        pending_.clear();
        return false;
      }
      pending_.append(data.data(), data.size());
      return true;
    }
    const size_t line_len = static_cast<const char*>(nl_ptr) - data.data() + 1;
    if (pending_.size() + line_len - 1 > max_line_bytes_) {
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

void LineFramer::ReleaseMemoryIfEmpty() {
  if (pending_.empty() && pending_.capacity() > 0) {
    std::string().swap(pending_);
  }
}

}  // namespace common
