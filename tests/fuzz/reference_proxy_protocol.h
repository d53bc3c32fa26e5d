#ifndef TESTS_FUZZ_REFERENCE_PROXY_PROTOCOL_H_
#define TESTS_FUZZ_REFERENCE_PROXY_PROTOCOL_H_

// The obvious, whole-buffer reading of a PROXY protocol header that the fuzz
// target holds the incremental common::ProxyHeaderParser to. It is written
// independently from the parser (the rules of common/proxy_protocol.h applied
// to the whole input with find and split; its own IPv4 and IPv6 text parsers,
// no inet_pton) and shares only the vocabulary: the reason and kind enums.
//
// Besides the verdict it computes `decided_at`: how many bytes of the input
// the verdict needs (the header's length when valid; the offending byte's
// position + 1 for an error), which the incremental parser must match.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "common/proxy_protocol.h"

namespace fuzz {

struct ReferenceProxyHeader {
  enum class Outcome { kNeedMore, kDone, kError };
  Outcome outcome = Outcome::kNeedMore;
  common::ProxyHeaderError error = common::ProxyHeaderError::kNone;
  size_t decided_at = 0;
  int version = 0;
  common::ProxyHeaderKind kind = common::ProxyHeaderKind::kUnknown;
  // kProxy: 4 (IPv4) or 16 (IPv6) address bytes, network order; host-order ports.
  std::string source_address;
  std::string destination_address;
  uint16_t source_port = 0;
  uint16_t destination_port = 0;
};

namespace reference_internal {

inline ReferenceProxyHeader Error(common::ProxyHeaderError error, size_t at) {
  ReferenceProxyHeader r;
  r.outcome = ReferenceProxyHeader::Outcome::kError;
  r.error = error;
  r.decided_at = at;
  return r;
}

inline ReferenceProxyHeader NeedMore() { return ReferenceProxyHeader(); }

inline bool IsDigit(char c) { return c >= '0' && c <= '9'; }

inline int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Decimal without sign or leading zeros, at most `max`.
inline bool Decimal(absl::string_view text, uint32_t max, uint32_t* out) {
  if (text.empty() || text.size() > 5) return false;
  if (text.size() > 1 && text[0] == '0') return false;
  uint32_t value = 0;
  for (char c : text) {
    if (!IsDigit(c)) return false;
    value = value * 10 + static_cast<uint32_t>(c - '0');
  }
  if (value > max) return false;
  *out = value;
  return true;
}

inline bool IPv4(absl::string_view text, std::string* out) {
  std::vector<absl::string_view> parts = absl::StrSplit(text, '.');
  if (parts.size() != 4) return false;
  std::string bytes;
  for (absl::string_view part : parts) {
    uint32_t value;
    if (part.size() > 3 || !Decimal(part, 255, &value)) return false;
    bytes.push_back(static_cast<char>(value));
  }
  *out = bytes;
  return true;
}

// Groups of `text` (no "::" inside) as 16-bit words; the last group of the
// whole address (`may_end_in_ipv4`) may be dotted IPv4, worth two words.
inline bool Groups(absl::string_view text, bool may_end_in_ipv4, std::vector<uint16_t>* words) {
  if (text.empty()) return true;
  std::vector<absl::string_view> groups = absl::StrSplit(text, ':');
  for (size_t i = 0; i < groups.size(); ++i) {
    const absl::string_view g = groups[i];
    if (g.find('.') != absl::string_view::npos) {
      std::string v4;
      if (!may_end_in_ipv4 || i + 1 != groups.size() || !IPv4(g, &v4)) return false;
      words->push_back(
          static_cast<uint16_t>(static_cast<uint8_t>(v4[0]) << 8 | static_cast<uint8_t>(v4[1])));
      words->push_back(
          static_cast<uint16_t>(static_cast<uint8_t>(v4[2]) << 8 | static_cast<uint8_t>(v4[3])));
      continue;
    }
    if (g.empty() || g.size() > 4) return false;
    uint16_t word = 0;
    for (char c : g) {
      const int v = HexValue(c);
      if (v < 0) return false;
      word = static_cast<uint16_t>(word << 4 | v);
    }
    words->push_back(word);
  }
  return true;
}

// RFC 4291 text: eight groups, or fewer around one "::" that stands for at
// least one zero group; the last 32 bits may be dotted IPv4.
inline bool IPv6(absl::string_view text, std::string* out) {
  const size_t gap = text.find("::");
  std::vector<uint16_t> head, tail;
  if (gap == absl::string_view::npos) {
    if (!Groups(text, true, &head) || head.size() != 8) return false;
  } else {
    if (text.find("::", gap + 1) != absl::string_view::npos) return false;
    // Only the address's last group may be dotted: never one before "::".
    if (!Groups(text.substr(0, gap), false, &head)) return false;
    const absl::string_view after = text.substr(gap + 2);
    if (!Groups(after, true, &tail)) return false;
    if (head.size() + tail.size() > 7) return false;
  }
  std::vector<uint16_t> words = head;
  words.resize(8 - tail.size(), 0);
  words.insert(words.end(), tail.begin(), tail.end());
  out->clear();
  for (uint16_t w : words) {
    out->push_back(static_cast<char>(w >> 8));
    out->push_back(static_cast<char>(w & 0xff));
  }
  return true;
}

inline uint16_t Be16(absl::string_view in, size_t at) {
  return static_cast<uint16_t>(static_cast<uint8_t>(in[at]) << 8 |
                               static_cast<uint8_t>(in[at + 1]));
}

inline ReferenceProxyHeader V1(absl::string_view in, bool allowed) {
  using common::ProxyHeaderError;
  constexpr absl::string_view kSignature = "PROXY ";
  for (size_t i = 0; i < kSignature.size(); ++i) {
    if (i >= in.size()) return NeedMore();
    if (in[i] != kSignature[i]) return Error(ProxyHeaderError::kNotProxyProtocol, i + 1);
  }
  if (!allowed) return Error(ProxyHeaderError::kVersionNotAllowed, kSignature.size());

  const absl::string_view rest = in.substr(kSignature.size());
  const absl::string_view tokens[] = {"TCP4 ", "TCP6 ", "UNKNOWN"};
  int token = -1;
  size_t longest_match = 0;
  for (int t = 0; t < 3; ++t) {
    size_t n = 0;
    while (n < tokens[t].size() && n < rest.size() && rest[n] == tokens[t][n]) ++n;
    if (n == tokens[t].size()) token = t;
    longest_match = std::max(longest_match, n);
  }
  if (token < 0) {
    if (longest_match == rest.size()) return NeedMore();  // still a prefix of a token
    return Error(ProxyHeaderError::kBadV1, kSignature.size() + longest_match + 1);
  }
  const size_t line_start = kSignature.size() + tokens[token].size();
  const bool unknown = token == 2;
  if (unknown && in.size() > line_start && in[line_start] != ' ' && in[line_start] != '\r') {
    return Error(ProxyHeaderError::kBadV1, line_start + 1);
  }
  const size_t eol = in.find_first_of("\r\n", line_start);
  constexpr size_t kMax = 107;
  if (eol == absl::string_view::npos) {
    return in.size() >= kMax ? Error(ProxyHeaderError::kTooLong, kMax) : NeedMore();
  }
  if (eol >= kMax) return Error(ProxyHeaderError::kTooLong, kMax);
  if (in[eol] == '\n') return Error(ProxyHeaderError::kBadV1, eol + 1);
  if (eol + 1 == kMax) return Error(ProxyHeaderError::kTooLong, kMax);  // no room for LF
  if (eol + 1 >= in.size()) return NeedMore();
  if (in[eol + 1] != '\n') return Error(ProxyHeaderError::kBadV1, eol + 2);
  const size_t length = eol + 2;

  ReferenceProxyHeader r;
  r.outcome = ReferenceProxyHeader::Outcome::kDone;
  r.decided_at = length;
  r.version = 1;
  if (unknown) {
    r.kind = common::ProxyHeaderKind::kUnknown;
    return r;
  }
  std::vector<absl::string_view> fields =
      absl::StrSplit(in.substr(line_start, eol - line_start), ' ');
  if (fields.size() != 4) return Error(ProxyHeaderError::kBadV1, length);
  const bool v4 = token == 0;
  uint32_t sport, dport;
  if (!(v4 ? IPv4(fields[0], &r.source_address) : IPv6(fields[0], &r.source_address)) ||
      !(v4 ? IPv4(fields[1], &r.destination_address) : IPv6(fields[1], &r.destination_address)) ||
      !Decimal(fields[2], 65535, &sport) || !Decimal(fields[3], 65535, &dport)) {
    return Error(ProxyHeaderError::kBadV1, length);
  }
  r.source_port = static_cast<uint16_t>(sport);
  r.destination_port = static_cast<uint16_t>(dport);
  r.kind = common::ProxyHeaderKind::kProxy;
  return r;
}

inline ReferenceProxyHeader V2(absl::string_view in, bool allowed, size_t max_length) {
  using common::ProxyHeaderError;
  const absl::string_view kSignature("\r\n\r\n\0\r\nQUIT\n", 12);
  for (size_t i = 0; i < kSignature.size(); ++i) {
    if (i >= in.size()) return NeedMore();
    if (in[i] != kSignature[i]) return Error(ProxyHeaderError::kNotProxyProtocol, i + 1);
  }
  if (!allowed) return Error(ProxyHeaderError::kVersionNotAllowed, 12);
  if (in.size() < 13) return NeedMore();
  const uint8_t ver_cmd = static_cast<uint8_t>(in[12]);
  if (ver_cmd >> 4 != 2 || (ver_cmd & 0x0f) > 1) return Error(ProxyHeaderError::kBadV2, 13);
  const bool local = (ver_cmd & 0x0f) == 0;
  if (in.size() < 14) return NeedMore();
  const uint8_t family = static_cast<uint8_t>(in[13]);
  size_t address_length = 0;
  if (!local) {
    if (family == 0x11) {
      address_length = 12;
    } else if (family == 0x21) {
      address_length = 36;
    } else if (family == 0x12 || family == 0x22 || family == 0x31 || family == 0x32) {
      return Error(ProxyHeaderError::kUnsupportedFamily, 14);
    } else if (family != 0x00) {
      return Error(ProxyHeaderError::kBadV2, 14);
    }
  }
  if (in.size() < 16) return NeedMore();
  const size_t length = Be16(in, 14);
  if (length < address_length) return Error(ProxyHeaderError::kBadV2, 16);
  const size_t total = 16 + length;
  if (total > max_length) return Error(ProxyHeaderError::kTooLong, 16);

  ReferenceProxyHeader r;
  r.outcome = ReferenceProxyHeader::Outcome::kDone;
  r.decided_at = total;
  r.version = 2;
  if (local) {
    if (in.size() < total) return NeedMore();
    r.kind = common::ProxyHeaderKind::kLocal;
    return r;
  }
  // TLVs: each needs its 3-byte header within the length, then its value.
  for (size_t p = 16 + address_length; p < total;) {
    if (in.size() <= p) return NeedMore();
    if (total - p < 3) return Error(ProxyHeaderError::kBadV2, p + 1);
    if (in.size() < p + 3) return NeedMore();
    const size_t value_length = Be16(in, p + 1);
    if (p + 3 + value_length > total) return Error(ProxyHeaderError::kBadV2, p + 3);
    p += 3 + value_length;
  }
  if (in.size() < total) return NeedMore();
  if (address_length == 0) {
    r.kind = common::ProxyHeaderKind::kUnknown;
    return r;
  }
  const size_t a = address_length == 12 ? 4 : 16;
  r.kind = common::ProxyHeaderKind::kProxy;
  r.source_address = std::string(in.substr(16, a));
  r.destination_address = std::string(in.substr(16 + a, a));
  r.source_port = Be16(in, 16 + 2 * a);
  r.destination_port = Be16(in, 16 + 2 * a + 2);
  return r;
}

}  // namespace reference_internal

// The verdict on `in`, the first bytes of a connection.
inline ReferenceProxyHeader ReferenceParseProxyHeader(absl::string_view in,
                                                      common::ProxyVersions versions,
                                                      size_t max_v2_length) {
  const bool v1 = versions != common::ProxyVersions::kV2;
  const bool v2 = versions != common::ProxyVersions::kV1;
  if (in.empty()) return reference_internal::NeedMore();
  if (in[0] == 'P') return reference_internal::V1(in, v1);
  if (in[0] == '\r') return reference_internal::V2(in, v2, max_v2_length);
  return reference_internal::Error(common::ProxyHeaderError::kNotProxyProtocol, 1);
}

}  // namespace fuzz

#endif  // TESTS_FUZZ_REFERENCE_PROXY_PROTOCOL_H_
