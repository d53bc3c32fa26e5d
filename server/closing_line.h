#ifndef SERVER_CLOSING_LINE_H_
#define SERVER_CLOSING_LINE_H_

// ClosingLine: what the server actually says when it ends a conversation
// with one of the protocol's closing lines, and the count of shutdown lines.
// Every place that ends a connection with a line (the acceptor, the server's
// shutdown, a session) goes through it, so raw framing stays a pure echo and
// `shutdown_goodbyes` counts every bye sent at shutdown exactly once.
//
// Thread safety: any thread (the counter is atomic).

#include "absl/strings/string_view.h"
#include "common/protocol.h"
#include "server/stats.h"

namespace server {

// The bytes to send for `line` under `framing` (none in raw framing); counts
// a shutdown line that is sent.
inline absl::string_view ClosingLine(common::Framing framing, absl::string_view line,
                                     Stats& stats) {
  const absl::string_view text = common::ClosingLineFor(framing, line);
  if (line == common::kShutdownLine && !text.empty()) Stats::Add(stats.shutdown_goodbyes);
  return text;
}

}  // namespace server

#endif  // SERVER_CLOSING_LINE_H_
