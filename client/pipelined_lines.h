#ifndef CLIENT_PIPELINED_LINES_H_
#define CLIENT_PIPELINED_LINES_H_

// PipelinedLines: the lines one open-loop connection has sent and the
// replies it is owed, in order, for any number in flight.
//
// Every line is "<id>:<seq>:" plus filler to `line_bytes` (newline included),
// so it is unique and a reply meant for another connection, or a stale one,
// is a mismatch rather than a coincidental match. Each reply is the prefix
// plus the line; all have the same length, so counting matched bytes counts
// replies. Kept apart from the event loop (client/open_loop.cc) so the byte
// accounting is testable without sockets.
//
// Thread safety: none; owned by one connection on one thread.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>

#include "absl/strings/string_view.h"

namespace client {

class PipelinedLines {
 public:
  struct Flight {
    int64_t due;   // when the schedule wanted it sent
    int64_t sent;  // when it was handed to the socket
  };
  enum class Check {
    kOk,        // every byte was part of a reply owed
    kMismatch,  // a byte differs from the reply owed
    kUnasked,   // replies matched, then bytes no line asked for
  };

  PipelinedLines(int id, size_t line_bytes, std::string reply_prefix);

  // Queues the next line, due at `due` and sent at `sent`.
  void Add(int64_t due, int64_t sent);
  // Bytes queued and not yet written; Written(n) after writing n of them.
  absl::string_view Unwritten() const {
    return absl::string_view(out_).substr(out_pos_);
  }
  void Written(size_t n);

  size_t in_flight() const { return flights_.size(); }
  const Flight& oldest() const { return flights_.front(); }

  // Checks received `data` against the replies owed, in order; `*matched`
  // is how many leading bytes matched (the rest, for kUnasked, is what
  // followed). Calls on_reply(flight) for each reply completed.
  template <typename OnReply>
  Check Receive(absl::string_view data, size_t* matched, OnReply on_reply);

 private:
  Flight PopOldest();

  const int id_;
  const size_t line_bytes_;
  const std::string reply_prefix_;
  uint64_t seq_ = 0;
  std::string out_;
  size_t out_pos_ = 0;
  std::string expected_;  // replies owed, from matched_ on
  size_t matched_ = 0;
  std::deque<Flight> flights_;
};

template <typename OnReply>
PipelinedLines::Check PipelinedLines::Receive(absl::string_view data, size_t* matched,
                                              OnReply on_reply) {
  const size_t owed = expected_.size() - matched_;
  const absl::string_view reply = data.substr(0, owed);
  *matched = 0;
  if (reply != absl::string_view(expected_).substr(matched_, reply.size())) {
    return Check::kMismatch;
  }
  *matched = reply.size();
  const size_t reply_bytes = reply_prefix_.size() + line_bytes_;
  const size_t before = matched_ / reply_bytes;
  matched_ += reply.size();
  for (size_t done = matched_ / reply_bytes; done > before; --done) on_reply(PopOldest());
  if (matched_ == expected_.size()) {
    expected_.clear();
    matched_ = 0;
  } else if (matched_ >= 16 * reply_bytes) {  // drop answered replies now and then
    const size_t whole = matched_ / reply_bytes * reply_bytes;
    expected_.erase(0, whole);
    matched_ -= whole;
  }
  return data.size() > owed ? Check::kUnasked : Check::kOk;
}

}  // namespace client

#endif  // CLIENT_PIPELINED_LINES_H_
