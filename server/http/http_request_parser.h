#ifndef SERVER_HTTP_HTTP_REQUEST_PARSER_H_
#define SERVER_HTTP_HTTP_REQUEST_PARSER_H_

// ParseHttpRequest: the head of one HTTP/1.x request (request line and
// header fields), for the metrics port's small HTTP server.
//
// Why our own: the metrics port serves three GET endpoints to probes and a
// scraper, and must stay answerable while hostile clients hold connections
// to it. Parsing only what those requests need, with a hard size bound, keeps
// the server single-threaded and its memory per connection fixed.
//
// The parser is stateless: it is handed everything buffered so far and
// either needs more, or returns one request and how many bytes it took (the
// rest may be the next, pipelined, request), or an error status to answer
// with before closing. It accepts a bare LF as a line end (RFC 9112 2.2) and
// rejects what a lenient parser would have to guess about: obsolete line
// folding, whitespace before a header's colon, control characters, any
// request body (Content-Length other than 0, Transfer-Encoding), versions
// other than 1.0 and 1.1.
//
// Thread safety: a pure function.

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"

namespace server {

struct HttpRequest {
  std::string method;  // as sent, case-sensitive ("GET", "HEAD", ...)
  std::string path;    // the target without its query ("/metrics")
  int minor_version = 1;  // HTTP/1.<minor_version>
  // Whether the connection may carry another request after this one:
  // HTTP/1.1 unless "Connection: close"; never for HTTP/1.0.
  bool keep_alive = true;
};

struct HttpParseResult {
  enum class Kind {
    kNeedMore,  // no complete head yet, within the limit; pass `consumed`
                // as `resume_at` once more bytes have arrived
    kRequest,   // `request` parsed from the first `consumed` bytes
    kError,     // answer `error_status` and close
  };
  Kind kind = Kind::kNeedMore;
  HttpRequest request;
  size_t consumed = 0;
  int error_status = 0;  // 400 malformed, 431 head too large, 505 version
};

// Limits: the whole head (request line, headers, the blank line) within
// `max_head_bytes`, at most kMaxHeaderFields fields.
inline constexpr size_t kMaxHeaderFields = 100;

//
// `resume_at`: what the last kNeedMore result for the same input said (0 for
// a fresh request), so bytes dripping in are not scanned again and again.
HttpParseResult ParseHttpRequest(absl::string_view input, size_t max_head_bytes,
                                 size_t resume_at = 0);

}  // namespace server

#endif  // SERVER_HTTP_HTTP_REQUEST_PARSER_H_
