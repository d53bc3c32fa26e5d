// libFuzzer target for the Session state machine: an arbitrary byte stream,
// delivered in arbitrary pieces over a socketpair, must be answered with
// exactly one prefixed reply per complete line, in order, and nothing else
// but the protocol's own lines (welcome first; an error line last if a line
// was too long).
//
// Input layout: byte 0 picks max_line_bytes (1..256), byte 1 seeds the
// piece sizes, the rest is what the client sends.

#include <poll.h>
#include <sys/socket.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "common/protocol.h"
#include "common/unique_fd.h"
#include "server/session/session.h"
#include "server/session/socket_transport.h"
#include "server/stats.h"
#include "tests/fuzz/reference_framing.h"

namespace {

using fuzz::Check;

void Drain(const common::UniqueFd& fd, std::string* out) {
  char buf[4096];
  for (;;) {
    ssize_t n = ::recv(fd.get(), buf, sizeof(buf), MSG_DONTWAIT);
    if (n <= 0) return;
    out->append(buf, static_cast<size_t>(n));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const size_t max_line = 1 + data[0];
  uint32_t seed = data[1];
  const absl::string_view stream(reinterpret_cast<const char*>(data + 2), size - 2);

  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0) return 0;
  common::UniqueFd client(sv[1]);
  server::SessionConfig config;
  config.welcome_line = "welcome to server.\r\n";
  config.reply_prefix = "ok ...";
  config.max_line_bytes = max_line;
  // A small output cap, so reads are bounded to a few bytes and lines often
  // split across them.
  config.max_output_bytes = 2 * (max_line + config.reply_prefix.size() + 32);
  server::Stats stats;
  server::WorkerCounters counters;
  server::WorkerContext context(config, &counters);
  const absl::Time now = absl::Now();
  server::Session session(std::make_unique<server::SocketTransport>(common::UniqueFd(sv[0])),
                          server::AdmissionTicket(), &config, &stats, now);

  // Expected output, from a reference framing of the whole stream.
  const fuzz::ReferenceFraming reference = fuzz::FrameWholeStream(stream, max_line);
  std::string expected = config.welcome_line;
  for (const std::string& line : reference.lines) {
    absl::StrAppend(&expected, config.reply_prefix, line);
  }
  if (reference.too_long) absl::StrAppend(&expected, common::kLineTooLongLine);

  std::string got;
  server::Session::Wait wait = session.Resume(now, context);
  size_t pos = 0;
  while (wait.interest != server::Session::Interest::kDone) {
    if (pos < stream.size()) {
      seed = seed * 1103515245u + 12345u;
      const size_t chunk = 1 + (seed >> 16) % 700;
      const absl::string_view piece = stream.substr(pos, chunk);
      ssize_t n = ::send(client.get(), piece.data(), piece.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) pos += static_cast<size_t>(n);
    } else {
      ::shutdown(client.get(), SHUT_WR);  // EOF: the session finishes
    }
    Drain(client, &got);
    wait = session.Resume(now, context);
  }
  Drain(client, &got);
  Check(got == expected, "replies differ from the reference");
  Check(counters.lines.load() == static_cast<int64_t>(reference.lines.size()),
        "line count differs from the reference");
  return 0;
}
