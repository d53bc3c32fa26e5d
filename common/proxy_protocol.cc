#include "common/proxy_protocol.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstring>
#include <limits>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "glog/logging.h"

namespace common {
namespace {

constexpr absl::string_view kV1Signature = "PROXY ";
constexpr char kV2SignatureBytes[] = "\r\n\r\n\0\r\nQUIT\n";
constexpr absl::string_view kV2Signature(kV2SignatureBytes, 12);

// The shortest valid v1 line: "PROXY UNKNOWN\r\n".
constexpr size_t kV1MinLength = 15;

// The words that may follow "PROXY ", with what SafeReadSize needs to know
// about the shortest valid line each can start.
struct V1Token {
  absl::string_view text;
  size_t min_tail;     // bytes after the token: "0.0.0.0 0.0.0.0 0 0\r\n"...
  size_t min_address;  // shortest address text ("0.0.0.0", "::")
  int family;
};
constexpr V1Token kV1Tokens[] = {
    {"TCP4 ", 21, 7, AF_INET},
    {"TCP6 ", 11, 2, AF_INET6},
    {"UNKNOWN", 2, 0, AF_UNSPEC},
};
constexpr int kUnknownToken = 2;
constexpr uint8_t kAllTokens = 0b111;

// v2 byte 12's low nibble.
constexpr uint8_t kCommandLocal = 0;
constexpr uint8_t kCommandProxy = 1;
// v2 byte 13: address family (high nibble) and transport (low nibble).
constexpr uint8_t kFamilyUnspec = 0x00;
constexpr uint8_t kFamilyTcp4 = 0x11;
constexpr uint8_t kFamilyTcp6 = 0x21;
constexpr size_t kTcp4AddressLength = 12;
constexpr size_t kTcp6AddressLength = 36;
// A TLV's type and 2-byte length.
constexpr size_t kTlvHeaderLength = 3;

constexpr size_t kSmallestMaxV2Length = ProxyHeaderParser::kV2FixedLength + kTcp6AddressLength;

std::string HexByte(uint8_t b) { return absl::StrCat("0x", absl::Hex(b, absl::kZeroPad2)); }

// Four decimal numbers 0..255 joined by dots, without leading zeros.
bool ParseIPv4(absl::string_view text, in_addr* out) {
  uint8_t bytes[4];
  size_t i = 0;
  for (int part = 0; part < 4; ++part) {
    if (part > 0) {
      if (i >= text.size() || text[i] != '.') return false;
      ++i;
    }
    const size_t start = i;
    unsigned value = 0;
    while (i < text.size() && i - start < 3 && absl::ascii_isdigit(text[i])) {
      value = value * 10 + static_cast<unsigned>(text[i] - '0');
      ++i;
    }
    const size_t digits = i - start;
    if (digits == 0 || value > 255 || (digits > 1 && text[start] == '0')) return false;
    bytes[part] = static_cast<uint8_t>(value);
  }
  if (i != text.size()) return false;
  std::memcpy(&out->s_addr, bytes, sizeof(bytes));
  return true;
}

// RFC 4291 text, by glibc's inet_pton (which also refuses leading zeros in a
// dotted IPv4 tail). It needs a NUL-terminated string, and an embedded NUL
// would cut the text short, hence the character check and the copy.
bool ParseIPv6(absl::string_view text, in6_addr* out) {
  char copy[INET6_ADDRSTRLEN];
  if (text.empty() || text.size() >= sizeof(copy)) return false;
  for (char c : text) {
    if (!absl::ascii_isxdigit(c) && c != ':' && c != '.') return false;
  }
  std::memcpy(copy, text.data(), text.size());
  copy[text.size()] = '\0';
  return inet_pton(AF_INET6, copy, out) == 1;
}

// Decimal 0..65535 without sign or leading zeros.
bool ParsePort(absl::string_view text, uint16_t* port) {
  if (text.empty() || text.size() > 5 || (text.size() > 1 && text[0] == '0')) return false;
  uint32_t value = 0;
  for (char c : text) {
    if (!absl::ascii_isdigit(c)) return false;
    value = value * 10 + static_cast<uint32_t>(c - '0');
  }
  if (value > std::numeric_limits<uint16_t>::max()) return false;
  *port = static_cast<uint16_t>(value);
  return true;
}

// `port` in host order.
void SetIPv4(const in_addr& address, uint16_t port, sockaddr_storage* out) {
  *out = sockaddr_storage{};
  auto* in = reinterpret_cast<sockaddr_in*>(out);
  in->sin_family = AF_INET;
  in->sin_addr = address;
  in->sin_port = htons(port);
}

void SetIPv6(const in6_addr& address, uint16_t port, sockaddr_storage* out) {
  *out = sockaddr_storage{};
  auto* in6 = reinterpret_cast<sockaddr_in6*>(out);
  in6->sin6_family = AF_INET6;
  in6->sin6_addr = address;
  in6->sin6_port = htons(port);
}

uint16_t BigEndian16(const char* p) {
  return static_cast<uint16_t>(static_cast<uint8_t>(p[0]) << 8 | static_cast<uint8_t>(p[1]));
}

absl::string_view UnsupportedFamilyName(uint8_t family) {
  switch (family) {
    case 0x12:
      return "UDP over IPv4";
    case 0x22:
      return "UDP over IPv6";
    case 0x31:
      return "UNIX stream";
    case 0x32:
      return "UNIX datagram";
    default:
      return "";
  }
}

std::string FormatAddress(const sockaddr_storage& address) {
  char text[INET6_ADDRSTRLEN] = "?";
  if (address.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&address);
    inet_ntop(AF_INET, &in->sin_addr, text, sizeof(text));
    return absl::StrCat(text, ":", ntohs(in->sin_port));
  }
  if (address.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&address);
    inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof(text));
    return absl::StrCat("[", text, "]:", ntohs(in6->sin6_port));
  }
  return "?";
}

}  // namespace

absl::string_view ProxyHeaderErrorName(ProxyHeaderError error) {
  switch (error) {
    case ProxyHeaderError::kNone:
      return "none";
    case ProxyHeaderError::kNotProxyProtocol:
      return "not_proxy_protocol";
    case ProxyHeaderError::kVersionNotAllowed:
      return "version_not_allowed";
    case ProxyHeaderError::kBadV1:
      return "bad_v1";
    case ProxyHeaderError::kBadV2:
      return "bad_v2";
    case ProxyHeaderError::kUnsupportedFamily:
      return "unsupported_family";
    case ProxyHeaderError::kTooLong:
      return "too_long";
    case ProxyHeaderError::kTruncated:
      return "truncated";
  }
  return "unknown";
}

std::string ProxyHeader::SourceName() const {
  return kind == ProxyHeaderKind::kProxy ? FormatAddress(source) : "?";
}

std::string ProxyHeader::DestinationName() const {
  return kind == ProxyHeaderKind::kProxy ? FormatAddress(destination) : "?";
}

ProxyHeaderParser::ProxyHeaderParser(const ProxyHeaderOptions& options) : options_(options) {
  CHECK_GE(options.max_v2_length, kSmallestMaxV2Length)
      << "max_v2_length must admit a TCP over IPv6 header";
}

bool ProxyHeaderParser::Allowed(int version) const {
  switch (options_.versions) {
    case ProxyVersions::kV1:
      return version == 1;
    case ProxyVersions::kV2:
      return version == 2;
    case ProxyVersions::kAny:
      return true;
  }
  return false;
}

size_t ProxyHeaderParser::Feed(absl::string_view data) {
  size_t used = 0;
  while (used < data.size() && state_ == State::kNeedMore) {
    // Payload nobody reads (LOCAL's, TLV values) is skipped in bulk.
    size_t skip = 0;
    if (phase_ == Phase::kV2Ignored) {
      skip = v2_total_ - pos_;
    } else if (phase_ == Phase::kV2Tlvs && pos_ < tlv_start_) {
      skip = tlv_start_ - pos_;
    }
    if (skip > 0) {
      skip = std::min(skip, data.size() - used);
      pos_ += skip;
      used += skip;
      if (pos_ == v2_total_) FinishV2();
      continue;
    }
    Step(data[used]);
    ++used;
  }
  return used;
}

void ProxyHeaderParser::OnEndOfStream() {
  if (state_ != State::kNeedMore) return;
  Fail(ProxyHeaderError::kTruncated,
       absl::StrCat("the stream ended after ", pos_, " bytes of the header"));
}

void ProxyHeaderParser::Step(char c) {
  if (pos_ < sizeof(buf_)) buf_[pos_] = c;
  ++pos_;
  switch (phase_) {
    case Phase::kSignature:
      return StepSignature(c);
    case Phase::kV1Token:
      return StepV1Token(c);
    case Phase::kV1Line:
      return StepV1Line(c);
    case Phase::kV2Fixed:
      return StepV2Fixed(c);
    case Phase::kV2Addresses:
      return StepV2Addresses(c);
    case Phase::kV2Tlvs:
      return StepV2Tlv(c);
    case Phase::kV2Ignored:
    case Phase::kFinished:
      LOG(FATAL) << "no byte-wise step in this phase";
  }
}

void ProxyHeaderParser::StepSignature(char c) {
  const size_t at = pos_ - 1;
  if (at == 0) {
    if (c == kV1Signature[0]) {
      version_ = 1;
    } else if (c == kV2Signature[0]) {
      version_ = 2;
    } else {
      return Fail(ProxyHeaderError::kNotProxyProtocol,
                  absl::StrCat("the first byte, ", HexByte(static_cast<uint8_t>(c)),
                               ", starts neither \"PROXY \" (v1) nor the v2 signature"));
    }
  }
  const absl::string_view signature = version_ == 1 ? kV1Signature : kV2Signature;
  if (c != signature[at]) {
    return Fail(ProxyHeaderError::kNotProxyProtocol,
                absl::StrCat("byte ", at, " breaks the v", version_, " signature"));
  }
  if (pos_ < signature.size()) return;
  if (!Allowed(version_)) {
    return Fail(ProxyHeaderError::kVersionNotAllowed, version_ == 1
                                                          ? "a v1 header, but only v2 is accepted"
                                                          : "a v2 header, but only v1 is accepted");
  }
  if (version_ == 1) {
    phase_ = Phase::kV1Token;
    token_candidates_ = kAllTokens;
  } else {
    phase_ = Phase::kV2Fixed;
  }
}

void ProxyHeaderParser::StepV1Token(char c) {
  const size_t at = pos_ - 1 - kV1Signature.size();
  for (int t = 0; t < 3; ++t) {
    if ((token_candidates_ >> t & 1) != 0 && kV1Tokens[t].text[at] != c) {
      token_candidates_ &= static_cast<uint8_t>(~(1u << t));
    }
  }
  if (token_candidates_ == 0) {
    return Fail(ProxyHeaderError::kBadV1, "expected TCP4, TCP6 or UNKNOWN after \"PROXY \"");
  }
  for (int t = 0; t < 3; ++t) {
    if ((token_candidates_ >> t & 1) != 0 && kV1Tokens[t].text.size() == at + 1) {
      token_ = t;
      token_end_ = pos_;
      phase_ = Phase::kV1Line;
      return;
    }
  }
}

void ProxyHeaderParser::StepV1Line(char c) {
  if (cr_seen_) {
    if (c != '\n') return Fail(ProxyHeaderError::kBadV1, "CR not followed by LF");
    return FinishV1Line();
  }
  if (c == '\n') return Fail(ProxyHeaderError::kBadV1, "LF without CR: the line must end in CRLF");
  if (token_ == kUnknownToken && pos_ - 1 == token_end_ && c != ' ' && c != '\r') {
    return Fail(ProxyHeaderError::kBadV1, "UNKNOWN must be followed by a space or CRLF");
  }
  if (c == '\r') {
    cr_seen_ = true;
  } else if (c == ' ') {
    ++spaces_;
    field_length_ = 0;
  } else {
    ++field_length_;
  }
  if (pos_ == kV1MaxLength) {
    Fail(ProxyHeaderError::kTooLong, "no CRLF within the first 107 bytes");
  }
}

void ProxyHeaderParser::FinishV1Line() {
  header_.version = 1;
  header_.length = pos_;
  if (token_ == kUnknownToken) {
    header_.kind = ProxyHeaderKind::kUnknown;
    state_ = State::kDone;
    phase_ = Phase::kFinished;
    return;
  }
  const V1Token& token = kV1Tokens[token_];
  const absl::string_view token_name = absl::StripSuffix(token.text, " ");
  const absl::string_view rest(buf_ + token_end_, pos_ - 2 - token_end_);
  absl::string_view fields[4];
  int count = 0;
  for (absl::string_view field : absl::StrSplit(rest, ' ')) {
    if (count == 4 || field.empty()) {
      count = -1;
      break;
    }
    fields[count++] = field;
  }
  if (count != 4) {
    return Fail(ProxyHeaderError::kBadV1,
                absl::StrCat("expected \"<source> <destination> <source port> <destination port>\""
                             " after ",
                             token_name, ", each separated by one space"));
  }
  // In the line's order, so the first bad field is the one reported.
  static constexpr absl::string_view kNames[] = {"source address", "destination address",
                                                 "source port", "destination port"};
  in_addr ipv4[2] = {};
  in6_addr ipv6[2] = {};
  for (int i = 0; i < 2; ++i) {
    const bool ok =
        token.family == AF_INET ? ParseIPv4(fields[i], &ipv4[i]) : ParseIPv6(fields[i], &ipv6[i]);
    if (!ok) {
      return Fail(ProxyHeaderError::kBadV1,
                  absl::StrCat(kNames[i], " \"", absl::CHexEscape(fields[i]), "\" is not an ",
                               token.family == AF_INET ? "IPv4" : "IPv6", " address"));
    }
  }
  uint16_t ports[2] = {};
  for (int i = 0; i < 2; ++i) {
    if (!ParsePort(fields[2 + i], &ports[i])) {
      return Fail(ProxyHeaderError::kBadV1,
                  absl::StrCat(kNames[2 + i], " \"", absl::CHexEscape(fields[2 + i]),
                               "\" is not a decimal 0..65535 without leading zeros"));
    }
  }
  if (token.family == AF_INET) {
    SetIPv4(ipv4[0], ports[0], &header_.source);
    SetIPv4(ipv4[1], ports[1], &header_.destination);
  } else {
    SetIPv6(ipv6[0], ports[0], &header_.source);
    SetIPv6(ipv6[1], ports[1], &header_.destination);
  }
  header_.kind = ProxyHeaderKind::kProxy;
  state_ = State::kDone;
  phase_ = Phase::kFinished;
}

void ProxyHeaderParser::StepV2Fixed(char c) {
  const uint8_t b = static_cast<uint8_t>(c);
  switch (pos_ - 1) {
    case 12:
      if (b >> 4 != 2) {
        return Fail(ProxyHeaderError::kBadV2,
                    absl::StrCat("version ", b >> 4, " in byte 12 (", HexByte(b), "), not 2"));
      }
      v2_command_ = b & 0x0f;
      if (v2_command_ != kCommandLocal && v2_command_ != kCommandProxy) {
        return Fail(ProxyHeaderError::kBadV2,
                    absl::StrCat("command ", static_cast<int>(v2_command_),
                                 " is neither LOCAL (0) nor PROXY (1)"));
      }
      return;
    case 13:
      v2_family_ = b;
      if (v2_command_ == kCommandLocal) return;  // ignored, as the spec says
      switch (b) {
        case kFamilyUnspec:
          v2_address_length_ = 0;
          return;
        case kFamilyTcp4:
          v2_address_length_ = kTcp4AddressLength;
          return;
        case kFamilyTcp6:
          v2_address_length_ = kTcp6AddressLength;
          return;
        case 0x12:
        case 0x22:
        case 0x31:
        case 0x32:
          return Fail(ProxyHeaderError::kUnsupportedFamily,
                      absl::StrCat(UnsupportedFamilyName(b), " (", HexByte(b),
                                   ") is not supported: this server speaks TCP only"));
        default:
          return Fail(ProxyHeaderError::kBadV2,
                      absl::StrCat("undefined family/transport byte ", HexByte(b)));
      }
    case 14:
      return;
    case 15: {
      const size_t length = BigEndian16(buf_ + 14);
      if (length < v2_address_length_) {
        return Fail(ProxyHeaderError::kBadV2,
                    absl::StrCat("length ", length, " is shorter than the ", v2_address_length_,
                                 "-byte address block of family ", HexByte(v2_family_)));
      }
      v2_total_ = kV2FixedLength + length;
      if (v2_total_ > options_.max_v2_length) {
        return Fail(ProxyHeaderError::kTooLong,
                    absl::StrCat("a ", v2_total_, "-byte v2 header exceeds the limit of ",
                                 options_.max_v2_length));
      }
      if (v2_command_ == kCommandLocal) {
        phase_ = Phase::kV2Ignored;
      } else if (v2_address_length_ > 0) {
        phase_ = Phase::kV2Addresses;
      } else {
        phase_ = Phase::kV2Tlvs;
        tlv_start_ = pos_;
      }
      if (pos_ == v2_total_) FinishV2();
      return;
    }
    default:
      LOG(FATAL) << "byte " << pos_ - 1 << " is not in the v2 fixed part";
  }
}

void ProxyHeaderParser::StepV2Addresses(char) {
  if (pos_ < kV2FixedLength + v2_address_length_) return;
  phase_ = Phase::kV2Tlvs;
  tlv_start_ = pos_;
  if (pos_ == v2_total_) FinishV2();
}

void ProxyHeaderParser::StepV2Tlv(char c) {
  const size_t at = pos_ - 1;
  const size_t offset = at - tlv_start_;
  tlv_header_[offset] = static_cast<uint8_t>(c);
  if (offset == 0 && v2_total_ - at < kTlvHeaderLength) {
    return Fail(ProxyHeaderError::kBadV2,
                absl::StrCat(v2_total_ - at, " bytes after the last TLV: too few for a TLV"));
  }
  if (offset + 1 < kTlvHeaderLength) return;
  const size_t value_length = static_cast<size_t>(tlv_header_[1]) << 8 | tlv_header_[2];
  if (pos_ + value_length > v2_total_) {
    return Fail(ProxyHeaderError::kBadV2,
                absl::StrCat("TLV type ", HexByte(tlv_header_[0]), " of ", value_length,
                             " bytes runs past the header's end"));
  }
  tlv_start_ = pos_ + value_length;
  if (pos_ == v2_total_) FinishV2();
}

void ProxyHeaderParser::FinishV2() {
  header_.version = 2;
  header_.length = pos_;
  state_ = State::kDone;
  phase_ = Phase::kFinished;
  if (v2_command_ == kCommandLocal) {
    header_.kind = ProxyHeaderKind::kLocal;
    return;
  }
  const char* block = buf_ + kV2FixedLength;
  if (v2_family_ == kFamilyTcp4) {
    in_addr source, destination;
    std::memcpy(&source, block, 4);
    std::memcpy(&destination, block + 4, 4);
    SetIPv4(source, BigEndian16(block + 8), &header_.source);
    SetIPv4(destination, BigEndian16(block + 10), &header_.destination);
    header_.kind = ProxyHeaderKind::kProxy;
  } else if (v2_family_ == kFamilyTcp6) {
    in6_addr source, destination;
    std::memcpy(&source, block, 16);
    std::memcpy(&destination, block + 16, 16);
    SetIPv6(source, BigEndian16(block + 32), &header_.source);
    SetIPv6(destination, BigEndian16(block + 34), &header_.destination);
    header_.kind = ProxyHeaderKind::kProxy;
  } else {
    header_.kind = ProxyHeaderKind::kUnknown;
  }
}

size_t ProxyHeaderParser::SafeReadSize() const {
  if (state_ != State::kNeedMore) return 0;
  switch (phase_) {
    case Phase::kSignature:
      if (pos_ == 0) return Allowed(1) ? kV1MinLength : kV2FixedLength;
      // A signature of a refused version only needs its own bytes: the
      // verdict comes when it is complete.
      if (version_ == 1) return (Allowed(1) ? kV1MinLength : kV1Signature.size()) - pos_;
      return (Allowed(2) ? kV2FixedLength : kV2Signature.size()) - pos_;
    case Phase::kV1Token: {
      const size_t at = pos_ - kV1Signature.size();
      size_t least = std::numeric_limits<size_t>::max();
      for (int t = 0; t < 3; ++t) {
        if ((token_candidates_ >> t & 1) == 0) continue;
        least = std::min(least, kV1Tokens[t].text.size() - at + kV1Tokens[t].min_tail);
      }
      return least;
    }
    case Phase::kV1Line: {
      if (cr_seen_) return 1;
      if (token_ == kUnknownToken || spaces_ > 3) return 2;
      // The rest of the current field, then each later field and its
      // separator, then the CRLF, all at their shortest.
      const size_t address = kV1Tokens[token_].min_address;
      const size_t min_field[4] = {address, address, 1, 1};
      size_t need = 2;
      if (field_length_ < min_field[spaces_]) need += min_field[spaces_] - field_length_;
      for (int f = spaces_ + 1; f < 4; ++f) need += 1 + min_field[f];
      return std::min(need, kV1MaxLength - pos_);
    }
    case Phase::kV2Fixed:
      return kV2FixedLength - pos_;
    case Phase::kV2Addresses:
    case Phase::kV2Tlvs:
    case Phase::kV2Ignored:
      return v2_total_ - pos_;
    case Phase::kFinished:
      break;
  }
  return 0;
}

void ProxyHeaderParser::Fail(ProxyHeaderError error, absl::string_view detail) {
  state_ = State::kError;
  phase_ = Phase::kFinished;
  error_ = error;
  status_ = absl::InvalidArgumentError(absl::StrCat(ProxyHeaderErrorName(error), ": ", detail));
}

}  // namespace common
