#ifndef COMMON_PROTOCOL_H_
#define COMMON_PROTOCOL_H_

// The wire protocol, shared by the server, the client and the tests so the
// three can never disagree. It is the socket tutorial's protocol, kept
// byte-compatible so `telnet localhost 8888` works:
//
//   server -> client   <welcome>\r\n                       on connect
//   client -> server   <line>\n                            any bytes but '\n'
//   server -> client   <reply_prefix><line>\n              the line verbatim
//
// and the server's closing lines, each followed by a graceful close:
//   busy: server at capacity, try again later\r\n   queue full (reject policy)
//   bye: server shutting down\r\n                    SIGINT/SIGTERM
//   bye: idle timeout\r\n                            no complete line in time
//   error: line too long\r\n                         line over --max_line_bytes

#include "absl/strings/string_view.h"

namespace common {

inline constexpr absl::string_view kDefaultWelcome = "welcome to server.";
inline constexpr absl::string_view kDefaultReplyPrefix = "ok ...";
inline constexpr absl::string_view kLineEnd = "\r\n";

inline constexpr absl::string_view kBusyLine =
    "busy: server at capacity, try again later\r\n";
inline constexpr absl::string_view kShutdownLine = "bye: server shutting down\r\n";
inline constexpr absl::string_view kIdleTimeoutLine = "bye: idle timeout\r\n";
inline constexpr absl::string_view kLineTooLongLine = "error: line too long\r\n";

inline constexpr int kDefaultPort = 8888;

// How the server frames what it echoes.
enum class Framing {
  kLine,  // the tutorial protocol: welcome line, then "<prefix><line>" replies
  kRaw,   // RFC 862 echo: bytes back as they arrive, no welcome, no prefix
};

// `line` in line framing; nothing in raw framing, a pure echo that adds no
// text of its own (not even a closing line).
inline absl::string_view ClosingLineFor(Framing framing, absl::string_view line) {
  return framing == Framing::kLine ? line : absl::string_view();
}

// The first words of the closing lines above.
inline constexpr absl::string_view kClosingWords[] = {"busy:", "bye:", "error:"};

// Whether `line` is one of the server's closing lines.
inline bool IsClosingLine(absl::string_view line) {
  for (absl::string_view word : kClosingWords) {
    if (line.substr(0, word.size()) == word) return true;
  }
  return false;
}

// Whether `bytes`, possibly only the start of a line (one read's worth),
// could begin a closing line.
inline bool MayBeClosingLine(absl::string_view bytes) {
  for (absl::string_view word : kClosingWords) {
    if (bytes.substr(0, word.size()) == word.substr(0, bytes.size())) return true;
  }
  return false;
}

}  // namespace common

#endif  // COMMON_PROTOCOL_H_
