#include "server/http/http_request_parser.h"

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace server {
namespace {

// RFC 9110 5.6.2 tchar.
bool IsTokenChar(char c) {
  if (absl::ascii_isalnum(static_cast<unsigned char>(c))) return true;
  switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+':
    case '-': case '.': case '^': case '_': case '`': case '|': case '~':
      return true;
    default:
      return false;
  }
}

bool IsToken(absl::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!IsTokenChar(c)) return false;
  }
  return true;
}

// Field values: visible characters, spaces, tabs and obs-text (bytes >= 0x80).
bool IsFieldValue(absl::string_view s) {
  for (char c : s) {
    const unsigned char u = static_cast<unsigned char>(c);
    if ((u < 0x20 && u != '\t') || u == 0x7f) return false;
  }
  return true;
}

// Request targets in origin form: "/" then visible ASCII.
bool IsOriginForm(absl::string_view s) {
  if (s.empty() || s[0] != '/') return false;
  for (char c : s) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f) return false;
  }
  return true;
}

HttpParseResult Error(int status) {
  HttpParseResult result;
  result.kind = HttpParseResult::Kind::kError;
  result.error_status = status;
  return result;
}

// Where the head ends (just past its blank line) in `input`, or npos.
// Lines end in LF, optionally preceded by CR. Starts at `from`, the start
// of a line; on npos, `from` is the start of the last, incomplete line.
size_t HeadEnd(absl::string_view input, size_t& from) {
  for (;;) {
    const size_t lf = input.find('\n', from);
    if (lf == absl::string_view::npos) return absl::string_view::npos;
    absl::string_view line = input.substr(from, lf - from);
    absl::ConsumeSuffix(&line, "\r");
    if (line.empty()) return lf + 1;
    from = lf + 1;
  }
}

}  // namespace

HttpParseResult ParseHttpRequest(absl::string_view input, size_t max_head_bytes,
                                 size_t resume_at) {
  // RFC 9112 2.2: ignore at least one empty line before the request line.
  size_t skipped = 0;
  while (skipped < input.size() && skipped < 4 &&
         (input[skipped] == '\r' || input[skipped] == '\n')) {
    ++skipped;
  }
  const absl::string_view rest = input.substr(skipped);
  const size_t resume_from = resume_at > skipped ? resume_at - skipped : 0;
  size_t last_line = resume_from;
  const size_t end = HeadEnd(rest, last_line);
  if (end == absl::string_view::npos) {
    if (rest.size() >= max_head_bytes) return Error(431);
    // A request line that can no longer be valid is rejected early, before
    // the limit: binary or a non-HTTP protocol gets its 400 at once. Only
    // the bytes not looked at before are checked.
    const absl::string_view first = rest.substr(0, rest.find('\n'));
    for (size_t i = resume_from; i < first.size(); ++i) {
      const unsigned char u = static_cast<unsigned char>(first[i]);
      if ((u < 0x20 && u != '\r') || u >= 0x7f) return Error(400);
    }
    HttpParseResult more;
    more.consumed = skipped + last_line;
    return more;
  }
  if (end > max_head_bytes) return Error(431);

  // Split after each LF: the last piece is empty, the one before it is the
  // blank line that ends the head.
  std::vector<absl::string_view> lines = absl::StrSplit(rest.substr(0, end), '\n');
  lines.pop_back();
  for (absl::string_view& line : lines) absl::ConsumeSuffix(&line, "\r");
  lines.pop_back();
  if (lines.empty()) return Error(400);
  if (lines.size() - 1 > kMaxHeaderFields) return Error(431);

  HttpParseResult result;
  HttpRequest& request = result.request;
  // request-line = method SP request-target SP HTTP-version
  std::vector<absl::string_view> parts = absl::StrSplit(lines[0], ' ');
  if (parts.size() != 3 || !IsToken(parts[0]) || !IsOriginForm(parts[1])) return Error(400);
  if (parts[2] == "HTTP/1.1") {
    request.minor_version = 1;
  } else if (parts[2] == "HTTP/1.0") {
    request.minor_version = 0;
  } else if (absl::StartsWith(parts[2], "HTTP/") && parts[2].size() == 8 &&
             absl::ascii_isdigit(static_cast<unsigned char>(parts[2][5])) && parts[2][6] == '.' &&
             absl::ascii_isdigit(static_cast<unsigned char>(parts[2][7]))) {
    return Error(505);
  } else {
    return Error(400);
  }
  request.method = std::string(parts[0]);
  absl::string_view target = parts[1];
  request.path = std::string(target.substr(0, target.find('?')));

  bool close = request.minor_version == 0;
  for (size_t i = 1; i < lines.size(); ++i) {
    const absl::string_view line = lines[i];
    const size_t colon = line.find(':');
    // No colon, an empty name, whitespace in or before it, or a folded
    // continuation line (starts with whitespace): all malformed.
    if (colon == absl::string_view::npos || !IsToken(line.substr(0, colon))) return Error(400);
    const absl::string_view name = line.substr(0, colon);
    const absl::string_view value = absl::StripAsciiWhitespace(line.substr(colon + 1));
    if (!IsFieldValue(value)) return Error(400);
    if (absl::EqualsIgnoreCase(name, "Connection")) {
      for (absl::string_view option : absl::StrSplit(value, ',')) {
        option = absl::StripAsciiWhitespace(option);
        if (absl::EqualsIgnoreCase(option, "close")) close = true;
      }
    } else if (absl::EqualsIgnoreCase(name, "Content-Length")) {
      if (value != "0") return Error(400);
    } else if (absl::EqualsIgnoreCase(name, "Transfer-Encoding")) {
      return Error(400);
    }
  }
  request.keep_alive = !close;
  result.kind = HttpParseResult::Kind::kRequest;
  result.consumed = skipped + end;
  return result;
}

}  // namespace server
