#include "client/pipelined_lines.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace client {

PipelinedLines::PipelinedLines(int id, size_t line_bytes, std::string reply_prefix)
    : id_(id),
      line_bytes_(std::max<size_t>(line_bytes, 2)),
      reply_prefix_(std::move(reply_prefix)) {}

void PipelinedLines::Add(int64_t due, int64_t sent) {
  const size_t begin = out_.size();
  absl::StrAppend(&out_, id_, ":", seq_++, ":");
  if (out_.size() - begin > line_bytes_ - 1) out_.resize(begin);  // too short for the tag
  out_.append(line_bytes_ - 1 - (out_.size() - begin), static_cast<char>('a' + seq_ % 26));
  out_.push_back('\n');
  expected_.append(reply_prefix_);
  expected_.append(out_, begin, std::string::npos);
  flights_.push_back({due, sent});
}

void PipelinedLines::Written(size_t n) {
  out_pos_ += n;
  if (out_pos_ == out_.size()) {
    out_.clear();
    out_pos_ = 0;
  }
}

PipelinedLines::Flight PipelinedLines::PopOldest() {
  const Flight f = flights_.front();
  flights_.pop_front();
  return f;
}

}  // namespace client
