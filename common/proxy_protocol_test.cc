#include "common/proxy_protocol.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace common {
namespace {

using State = ProxyHeaderParser::State;
using ::testing::HasSubstr;

constexpr absl::string_view kClientBytes = "hello\n";

// ---- Building headers ----

std::string V2Signature() { return std::string("\r\n\r\n\0\r\nQUIT\n", 12); }

// A v2 header whose length field says `length`, followed by `payload`.
std::string V2WithLength(uint8_t ver_cmd, uint8_t family, uint16_t length,
                         absl::string_view payload) {
  std::string out = V2Signature();
  out.push_back(static_cast<char>(ver_cmd));
  out.push_back(static_cast<char>(family));
  out.push_back(static_cast<char>(length >> 8));
  out.push_back(static_cast<char>(length & 0xff));
  absl::StrAppend(&out, payload);
  return out;
}

std::string V2(uint8_t ver_cmd, uint8_t family, absl::string_view payload) {
  return V2WithLength(ver_cmd, family, static_cast<uint16_t>(payload.size()), payload);
}

std::string Port(uint16_t port) {
  return std::string{static_cast<char>(port >> 8), static_cast<char>(port & 0xff)};
}

std::string Tcp4Block(const char* source, const char* destination, uint16_t sport, uint16_t dport) {
  in_addr s{}, d{};
  EXPECT_EQ(inet_pton(AF_INET, source, &s), 1);
  EXPECT_EQ(inet_pton(AF_INET, destination, &d), 1);
  return absl::StrCat(absl::string_view(reinterpret_cast<const char*>(&s), 4),
                      absl::string_view(reinterpret_cast<const char*>(&d), 4), Port(sport),
                      Port(dport));
}

std::string Tcp6Block(const char* source, const char* destination, uint16_t sport, uint16_t dport) {
  in6_addr s{}, d{};
  EXPECT_EQ(inet_pton(AF_INET6, source, &s), 1);
  EXPECT_EQ(inet_pton(AF_INET6, destination, &d), 1);
  return absl::StrCat(absl::string_view(reinterpret_cast<const char*>(&s), 16),
                      absl::string_view(reinterpret_cast<const char*>(&d), 16), Port(sport),
                      Port(dport));
}

std::string Tlv(uint8_t type, absl::string_view value) {
  std::string out{static_cast<char>(type), static_cast<char>(value.size() >> 8),
                  static_cast<char>(value.size() & 0xff)};
  absl::StrAppend(&out, value);
  return out;
}

ProxyHeaderOptions Versions(ProxyVersions versions) {
  ProxyHeaderOptions options;
  options.versions = versions;
  return options;
}

// ---- Observing the parser ----

// Everything a caller can learn from a parser, for comparing runs.
struct Outcome {
  State state;
  ProxyHeaderError error;
  size_t consumed;
  int version;
  ProxyHeaderKind kind;
  std::string source;
  std::string destination;

  bool operator==(const Outcome& o) const {
    return state == o.state && error == o.error && consumed == o.consumed && version == o.version &&
           kind == o.kind && source == o.source && destination == o.destination;
  }
};

std::ostream& operator<<(std::ostream& os, const Outcome& o) {
  return os << "{state=" << static_cast<int>(o.state) << " error=" << ProxyHeaderErrorName(o.error)
            << " consumed=" << o.consumed << " version=" << o.version
            << " kind=" << static_cast<int>(o.kind) << " source=" << o.source
            << " destination=" << o.destination << "}";
}

Outcome Observe(const ProxyHeaderParser& parser) {
  Outcome o{parser.state(),
            parser.error(),
            parser.bytes_consumed(),
            0,
            ProxyHeaderKind::kUnknown,
            "",
            ""};
  if (parser.state() == State::kDone) {
    o.version = parser.header().version;
    o.kind = parser.header().kind;
    o.source = parser.header().SourceName();
    o.destination = parser.header().DestinationName();
  }
  return o;
}

// Feeds `pieces` in order, as far as the parser takes them, checking Feed's
// contract on the way: everything is taken while more is needed.
Outcome FeedPieces(const std::vector<absl::string_view>& pieces,
                   const ProxyHeaderOptions& options) {
  ProxyHeaderParser parser(options);
  size_t total = 0;
  for (absl::string_view piece : pieces) {
    if (parser.state() != State::kNeedMore) break;
    const size_t used = parser.Feed(piece);
    total += used;
    EXPECT_LE(used, piece.size());
    if (parser.state() == State::kNeedMore) {
      EXPECT_EQ(used, piece.size());
    }
  }
  EXPECT_EQ(parser.bytes_consumed(), total);
  return Observe(parser);
}

Outcome ParseWhole(absl::string_view input, const ProxyHeaderOptions& options = {}) {
  return FeedPieces({input}, options);
}

// The outcome of `input` fed whole must not change when it is split in two
// at any point, fed a byte at a time, or read SafeReadSize() bytes at a time.
void ExpectSameOutcomeHoweverSplit(absl::string_view input, const ProxyHeaderOptions& options) {
  const Outcome whole = ParseWhole(input, options);
  for (size_t i = 0; i <= input.size(); ++i) {
    EXPECT_EQ(FeedPieces({input.substr(0, i), input.substr(i)}, options), whole)
        << "split at " << i;
  }
  std::vector<absl::string_view> bytes;
  for (size_t i = 0; i < input.size(); ++i) bytes.push_back(input.substr(i, 1));
  EXPECT_EQ(FeedPieces(bytes, options), whole) << "a byte at a time";

  if (whole.state == State::kDone) {
    for (size_t i = 0; i < whole.consumed; ++i) {
      ProxyHeaderParser prefix(options);
      prefix.Feed(input.substr(0, i));
      EXPECT_LE(i + prefix.SafeReadSize(), whole.consumed) << "SafeReadSize after " << i;
    }
  }

  ProxyHeaderParser parser(options);
  size_t pos = 0;
  while (parser.state() == State::kNeedMore && pos < input.size()) {
    const size_t want = parser.SafeReadSize();
    ASSERT_GE(want, 1u);
    if (whole.state == State::kDone) {
      EXPECT_LE(pos + want, whole.consumed) << "SafeReadSize reads past the header at " << pos;
    }
    const absl::string_view piece = input.substr(pos, want);
    const size_t used = parser.Feed(piece);
    if (whole.state == State::kDone) {
      EXPECT_EQ(used, piece.size());
    }
    pos += used;
  }
  EXPECT_EQ(Observe(parser), whole) << "SafeReadSize at a time";
}

// ---- Valid headers ----

struct ValidCase {
  std::string name;
  std::string header;
  ProxyHeaderKind kind;
  int version;
  std::string source;
  std::string destination;
};

std::vector<ValidCase> ValidCases() {
  const std::string full6 = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";
  return {
      {"v1_tcp4", "PROXY TCP4 192.0.2.1 198.51.100.2 56324 8888\r\n", ProxyHeaderKind::kProxy, 1,
       "192.0.2.1:56324", "198.51.100.2:8888"},
      {"v1_tcp4_longest", "PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n",
       ProxyHeaderKind::kProxy, 1, "255.255.255.255:65535", "255.255.255.255:65535"},
      {"v1_tcp4_shortest", "PROXY TCP4 0.0.0.0 0.0.0.0 0 0\r\n", ProxyHeaderKind::kProxy, 1,
       "0.0.0.0:0", "0.0.0.0:0"},
      {"v1_tcp6", "PROXY TCP6 2001:db8::1 2001:DB8:0:0:0:0:0:2 65535 0\r\n",
       ProxyHeaderKind::kProxy, 1, "[2001:db8::1]:65535", "[2001:db8::2]:0"},
      {"v1_tcp6_longest", absl::StrCat("PROXY TCP6 ", full6, " ", full6, " 65535 65535\r\n"),
       ProxyHeaderKind::kProxy, 1, absl::StrCat("[", full6, "]:65535"),
       absl::StrCat("[", full6, "]:65535")},
      {"v1_tcp6_shortest", "PROXY TCP6 :: :: 0 0\r\n", ProxyHeaderKind::kProxy, 1, "[::]:0",
       "[::]:0"},
      {"v1_tcp6_v4_mapped", "PROXY TCP6 ::ffff:192.0.2.1 ::1 1 2\r\n", ProxyHeaderKind::kProxy, 1,
       "[::ffff:192.0.2.1]:1", "[::1]:2"},
      {"v1_tcp6_double_colon_for_one_group", "PROXY TCP6 1:2:3:4:5:6:7:: 0001:2::8 10 20\r\n",
       ProxyHeaderKind::kProxy, 1, "[1:2:3:4:5:6:7:0]:10", "[1:2::8]:20"},
      {"v1_unknown_short", "PROXY UNKNOWN\r\n", ProxyHeaderKind::kUnknown, 1, "?", "?"},
      {"v1_unknown_with_addresses", "PROXY UNKNOWN 192.0.2.1 198.51.100.2 1 2\r\n",
       ProxyHeaderKind::kUnknown, 1, "?", "?"},
      {"v1_unknown_ignores_the_rest",
       absl::StrCat("PROXY UNKNOWN not even an address ", std::string("\0\x01\xff", 3), "\r\n"),
       ProxyHeaderKind::kUnknown, 1, "?", "?"},
      {"v1_unknown_longest", absl::StrCat("PROXY UNKNOWN ", std::string(90, 'x'), "\r\n"),
       ProxyHeaderKind::kUnknown, 1, "?", "?"},
      {"v2_local", V2(0x20, 0x00, ""), ProxyHeaderKind::kLocal, 2, "?", "?"},
      {"v2_local_ignores_family_and_payload",
       V2(0x20, 0x11, Tcp4Block("192.0.2.1", "198.51.100.2", 1, 2)), ProxyHeaderKind::kLocal, 2,
       "?", "?"},
      {"v2_local_ignores_undefined_family", V2(0x20, 0xff, "any bytes at all"),
       ProxyHeaderKind::kLocal, 2, "?", "?"},
      {"v2_tcp4", V2(0x21, 0x11, Tcp4Block("192.0.2.1", "198.51.100.2", 56324, 8888)),
       ProxyHeaderKind::kProxy, 2, "192.0.2.1:56324", "198.51.100.2:8888"},
      {"v2_tcp4_tlvs",
       V2(0x21, 0x11,
          absl::StrCat(Tcp4Block("192.0.2.1", "198.51.100.2", 1, 65535), Tlv(0x01, "h2"),
                       Tlv(0x04, ""), Tlv(0x02, "example.com"))),
       ProxyHeaderKind::kProxy, 2, "192.0.2.1:1", "198.51.100.2:65535"},
      {"v2_tcp4_large_tlv",
       V2(0x21, 0x11,
          absl::StrCat(Tcp4Block("10.0.0.1", "10.0.0.2", 3, 4), Tlv(0xe0, std::string(300, 'v')))),
       ProxyHeaderKind::kProxy, 2, "10.0.0.1:3", "10.0.0.2:4"},
      {"v2_tcp6", V2(0x21, 0x21, Tcp6Block("2001:db8::1", "::1", 443, 8888)),
       ProxyHeaderKind::kProxy, 2, "[2001:db8::1]:443", "[::1]:8888"},
      {"v2_tcp6_tlvs",
       V2(0x21, 0x21,
          absl::StrCat(Tcp6Block("2001:db8::1", "2001:db8::2", 5, 6), Tlv(0x05, "unique-id"))),
       ProxyHeaderKind::kProxy, 2, "[2001:db8::1]:5", "[2001:db8::2]:6"},
      {"v2_unspec", V2(0x21, 0x00, ""), ProxyHeaderKind::kUnknown, 2, "?", "?"},
      {"v2_unspec_tlvs", V2(0x21, 0x00, Tlv(0x04, "pad")), ProxyHeaderKind::kUnknown, 2, "?", "?"},
  };
}

TEST(ProxyHeaderParserTest, AcceptsValidHeadersAndLeavesTheClientBytes) {
  for (const ValidCase& c : ValidCases()) {
    SCOPED_TRACE(c.name);
    const std::string input = absl::StrCat(c.header, kClientBytes);
    const Outcome o = ParseWhole(input);
    EXPECT_EQ(o.state, State::kDone);
    EXPECT_EQ(o.error, ProxyHeaderError::kNone);
    EXPECT_EQ(o.consumed, c.header.size());
    EXPECT_EQ(o.version, c.version);
    EXPECT_EQ(o.kind, c.kind);
    EXPECT_EQ(o.source, c.source);
    EXPECT_EQ(o.destination, c.destination);
    ExpectSameOutcomeHoweverSplit(input, ProxyHeaderOptions());
  }
}

// Bytes HAProxy 2.6.12 (Debian 12) sent to a backend, captured with
// deploy/haproxy.cfg and variants of it, followed by the client's "hello\n".
TEST(ProxyHeaderParserTest, AcceptsHeadersCapturedFromHAProxy) {
  struct Capture {
    std::string name;
    std::string hex;
    ProxyHeaderKind kind;
    std::string source;
    std::string destination;
  };
  const std::vector<Capture> captures = {
      {"send-proxy-v2, health check (LOCAL)", "0d0a0d0a000d0a515549540a20000000",
       ProxyHeaderKind::kLocal, "?", "?"},
      {"send-proxy-v2, client", "0d0a0d0a000d0a515549540a2111000c7f0000017f000001995422b0",
       ProxyHeaderKind::kProxy, "127.0.0.1:39252", "127.0.0.1:8880"},
      {"send-proxy-v2 + crc32c, health check (LOCAL)",
       "0d0a0d0a000d0a515549540a20000007030004a9b87e8f", ProxyHeaderKind::kLocal, "?", "?"},
      {"send-proxy-v2 + crc32c and unique-id TLVs, client",
       "0d0a0d0a000d0a515549540a2111003f7f0000017f000001860222b0030004c9c6580b050029374630303030"
       "30313a383630325f37463030303030313a323242305f36423042373542445f30303030",
       ProxyHeaderKind::kProxy, "127.0.0.1:34306", "127.0.0.1:8880"},
      {"send-proxy, client",
       absl::BytesToHexString("PROXY TCP4 127.0.0.1 127.0.0.1 34294 8880\r\n"),
       ProxyHeaderKind::kProxy, "127.0.0.1:34294", "127.0.0.1:8880"},
      {"send-proxy, health check (v1 has no LOCAL: the check's own addresses)",
       absl::BytesToHexString("PROXY TCP4 127.0.0.1 127.0.0.1 56908 8881\r\n"),
       ProxyHeaderKind::kProxy, "127.0.0.1:56908", "127.0.0.1:8881"},
  };
  for (const Capture& c : captures) {
    SCOPED_TRACE(c.name);
    const std::string header = absl::HexStringToBytes(c.hex);
    const Outcome o = ParseWhole(absl::StrCat(header, kClientBytes));
    EXPECT_EQ(o.state, State::kDone);
    EXPECT_EQ(o.consumed, header.size());
    EXPECT_EQ(o.kind, c.kind);
    EXPECT_EQ(o.source, c.source);
    EXPECT_EQ(o.destination, c.destination);
  }
}

TEST(ProxyHeaderParserTest, AcceptsLongestV1Line) {
  const std::string line = absl::StrCat("PROXY UNKNOWN ", std::string(91, 'x'), "\r\n");
  ASSERT_EQ(line.size(), ProxyHeaderParser::kV1MaxLength);
  const Outcome o = ParseWhole(line);
  EXPECT_EQ(o.state, State::kDone);
  EXPECT_EQ(o.consumed, line.size());
}

TEST(ProxyHeaderParserTest, FillsSocketAddresses) {
  ProxyHeaderParser v4;
  v4.Feed("PROXY TCP4 192.0.2.1 198.51.100.2 56324 8888\r\n");
  ASSERT_EQ(v4.state(), State::kDone);
  const auto* src = reinterpret_cast<const sockaddr_in*>(&v4.header().source);
  const auto* dst = reinterpret_cast<const sockaddr_in*>(&v4.header().destination);
  EXPECT_EQ(src->sin_family, AF_INET);
  EXPECT_EQ(ntohs(src->sin_port), 56324);
  EXPECT_EQ(ntohl(src->sin_addr.s_addr), 0xc0000201u);
  EXPECT_EQ(dst->sin_family, AF_INET);
  EXPECT_EQ(ntohs(dst->sin_port), 8888);
  EXPECT_EQ(ntohl(dst->sin_addr.s_addr), 0xc6336402u);

  ProxyHeaderParser v6;
  v6.Feed(V2(0x21, 0x21, Tcp6Block("2001:db8::1", "::1", 443, 8888)));
  ASSERT_EQ(v6.state(), State::kDone);
  const auto* src6 = reinterpret_cast<const sockaddr_in6*>(&v6.header().source);
  EXPECT_EQ(src6->sin6_family, AF_INET6);
  EXPECT_EQ(ntohs(src6->sin6_port), 443);
  EXPECT_EQ(src6->sin6_addr.s6_addr[0], 0x20);
  EXPECT_EQ(src6->sin6_addr.s6_addr[15], 0x01);
}

TEST(ProxyHeaderParserTest, NoAddressesUnlessProxy) {
  ProxyHeaderParser local;
  local.Feed(V2(0x20, 0x11, Tcp4Block("192.0.2.1", "198.51.100.2", 1, 2)));
  ASSERT_EQ(local.state(), State::kDone);
  EXPECT_EQ(local.header().source.ss_family, AF_UNSPEC);
  EXPECT_EQ(local.header().destination.ss_family, AF_UNSPEC);
}

TEST(ProxyHeaderParserTest, EachVersionAloneAcceptsItsOwn) {
  EXPECT_EQ(ParseWhole("PROXY UNKNOWN\r\n", Versions(ProxyVersions::kV1)).state, State::kDone);
  EXPECT_EQ(ParseWhole(V2(0x20, 0, ""), Versions(ProxyVersions::kV2)).state, State::kDone);
}

TEST(ProxyHeaderParserTest, HugeV2HeaderIsSkippedWithinTheDefaultLimit) {
  const std::string header = V2(0x21, 0x11,
                                absl::StrCat(Tcp4Block("192.0.2.1", "198.51.100.2", 1, 2),
                                             Tlv(0xe0, std::string(65535 - 12 - 3, 'v'))));
  ASSERT_EQ(header.size(), 16u + 65535u);
  ProxyHeaderParser parser;
  size_t pos = 0;
  while (parser.state() == State::kNeedMore) {
    pos += parser.Feed(absl::string_view(header).substr(pos, 1000));
  }
  EXPECT_EQ(parser.state(), State::kDone);
  EXPECT_EQ(pos, header.size());
  EXPECT_EQ(parser.header().SourceName(), "192.0.2.1:1");
}

TEST(ProxyHeaderParserTest, V2LengthLimitIsInclusive) {
  ProxyHeaderOptions options;
  options.max_v2_length = 100;
  const std::string block = Tcp4Block("192.0.2.1", "198.51.100.2", 1, 2);
  const std::string at_limit = V2(0x21, 0x11, absl::StrCat(block, Tlv(0xe0, std::string(69, 'v'))));
  ASSERT_EQ(at_limit.size(), 100u);
  EXPECT_EQ(ParseWhole(at_limit, options).state, State::kDone);
  const std::string over = V2(0x21, 0x11, absl::StrCat(block, Tlv(0xe0, std::string(70, 'v'))));
  const Outcome o = ParseWhole(over, options);
  EXPECT_EQ(o.error, ProxyHeaderError::kTooLong);
  EXPECT_EQ(o.consumed, 16u);  // decided by the length field, before the payload
}

// ---- Refused headers ----

struct BadCase {
  std::string name;
  std::string input;
  ProxyHeaderError error;
  size_t decided_at;  // bytes taken when the error is reported
  ProxyVersions versions = ProxyVersions::kAny;
};

std::string V1(absl::string_view rest) { return absl::StrCat("PROXY ", rest); }

std::vector<BadCase> BadCases() {
  using E = ProxyHeaderError;
  const std::string tcp4 = Tcp4Block("192.0.2.1", "198.51.100.2", 1, 2);
  std::vector<BadCase> cases = {
      {"http_request", "GET / HTTP/1.1\r\n", E::kNotProxyProtocol, 1},
      {"leading_space", " PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n", E::kNotProxyProtocol, 1},
      {"leading_crlf", "\r\nPROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n", E::kNotProxyProtocol, 3},
      {"lowercase_proxy", "proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n", E::kNotProxyProtocol, 1},
      {"proxz", "PROXZ", E::kNotProxyProtocol, 5},
      {"proxy_without_space", "PROXY\r\n", E::kNotProxyProtocol, 6},
      {"v1_on_v2_listener", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n", E::kVersionNotAllowed, 6,
       ProxyVersions::kV2},
      {"v2_on_v1_listener", V2(0x21, 0x11, tcp4), E::kVersionNotAllowed, 12, ProxyVersions::kV1},
      {"unknown_protocol", V1("UDP4 1.2.3.4 5.6.7.8 1 2\r\n"), E::kBadV1, 8},  // U of UNKNOWN
      {"tcp5", V1("TCP5 1.2.3.4 5.6.7.8 1 2\r\n"), E::kBadV1, 10},
      {"lowercase_tcp4", V1("tcp4 1.2.3.4 5.6.7.8 1 2\r\n"), E::kBadV1, 7},
      {"two_spaces_after_proxy", V1(" TCP4 1.2.3.4 5.6.7.8 1 2\r\n"), E::kBadV1, 7},
      {"tcp4_without_space", V1("TCP4\r\n"), E::kBadV1, 11},
      {"unknownx", V1("UNKNOWNX\r\n"), E::kBadV1, 14},
      {"unknown_lf_only", V1("UNKNOWN\n"), E::kBadV1, 14},
      {"unknown_lf_in_rest", V1("UNKNOWN a\nb\r\n"), E::kBadV1, 16},
      {"missing_cr", V1("TCP4 1.2.3.4 5.6.7.8 1 2\n"), E::kBadV1, 31},
      {"cr_without_lf", V1("TCP4 1.2.3.4 5.6.7.8 1 2\rX"), E::kBadV1, 32},
      {"cr_cr_lf", V1("TCP4 1.2.3.4 5.6.7.8 1 2\r\r\n"), E::kBadV1, 32},
      {"v1_108_bytes", V1(absl::StrCat("UNKNOWN ", std::string(92, 'x'), "\r\n")), E::kTooLong,
       107},
      {"v1_cr_at_byte_107", V1(absl::StrCat("UNKNOWN ", std::string(92, 'x'), "\r")), E::kTooLong,
       107},
      {"v1_no_crlf", V1(absl::StrCat("TCP4 ", std::string(200, '1'))), E::kTooLong, 107},
      {"v2_version_1", V2(0x11, 0x11, tcp4), E::kBadV2, 13},
      {"v2_version_3", V2(0x31, 0x11, tcp4), E::kBadV2, 13},
      {"v2_command_2", V2(0x22, 0x11, tcp4), E::kBadV2, 13},
      {"v2_command_15", V2(0x2f, 0x11, tcp4), E::kBadV2, 13},
      {"v2_family_0x13", V2(0x21, 0x13, tcp4), E::kBadV2, 14},
      {"v2_family_0x41", V2(0x21, 0x41, tcp4), E::kBadV2, 14},
      {"v2_family_0x01", V2(0x21, 0x01, tcp4), E::kBadV2, 14},
      {"v2_family_0x10", V2(0x21, 0x10, tcp4), E::kBadV2, 14},
      {"v2_udp4", V2(0x21, 0x12, tcp4), E::kUnsupportedFamily, 14},
      {"v2_udp6", V2(0x21, 0x22, std::string(36, '\0')), E::kUnsupportedFamily, 14},
      {"v2_unix_stream", V2(0x21, 0x31, std::string(216, '\0')), E::kUnsupportedFamily, 14},
      {"v2_unix_dgram", V2(0x21, 0x32, std::string(216, '\0')), E::kUnsupportedFamily, 14},
      {"v2_tcp4_length_short", V2WithLength(0x21, 0x11, 11, tcp4), E::kBadV2, 16},
      {"v2_tcp6_length_short", V2WithLength(0x21, 0x21, 35, std::string(36, '\0')), E::kBadV2, 16},
      {"v2_tlv_runs_past_end",
       V2WithLength(0x21, 0x11, 12 + 8, absl::StrCat(tcp4, Tlv(0x01, "0123456789"))), E::kBadV2,
       31},
      {"v2_tlv_header_cut_2", V2(0x21, 0x11, absl::StrCat(tcp4, std::string("\x01\x00", 2))),
       E::kBadV2, 29},
      {"v2_tlv_header_cut_1", V2(0x21, 0x11, absl::StrCat(tcp4, "\x01")), E::kBadV2, 29},
      {"v2_second_tlv_cut", V2(0x21, 0x11, absl::StrCat(tcp4, Tlv(0x04, "ab"), "\x04")), E::kBadV2,
       34},
      {"v2_unspec_junk", V2(0x21, 0x00, "ab"), E::kBadV2, 17},
  };
  // Fields of TCP lines: each is decided when the line's LF arrives.
  const std::vector<std::pair<std::string, std::string>> bad_lines = {
      {"tcp4_octet_256", "TCP4 256.1.1.1 5.6.7.8 1 2"},
      {"tcp4_dst_octet_256", "TCP4 1.2.3.4 5.6.7.256 1 2"},
      {"tcp4_three_octets", "TCP4 1.2.3 5.6.7.8 1 2"},
      {"tcp4_five_octets", "TCP4 1.2.3.4.5 5.6.7.8 1 2"},
      {"tcp4_leading_zero", "TCP4 01.2.3.4 5.6.7.8 1 2"},
      {"tcp4_negative", "TCP4 1.2.3.-4 5.6.7.8 1 2"},
      {"tcp4_empty_octet", "TCP4 1..2.3 5.6.7.8 1 2"},
      {"tcp4_trailing_dot", "TCP4 1.2.3.4. 5.6.7.8 1 2"},
      {"tcp4_with_ipv6", "TCP4 ::1 5.6.7.8 1 2"},
      {"tcp4_hostname", "TCP4 localhost 5.6.7.8 1 2"},
      {"tcp6_with_ipv4", "TCP6 1.2.3.4 ::1 1 2"},
      {"tcp6_bad_hex", "TCP6 ::g ::1 1 2"},
      {"tcp6_nine_groups", "TCP6 1:2:3:4:5:6:7:8:9 ::1 1 2"},
      {"tcp6_seven_groups", "TCP6 1:2:3:4:5:6:7 ::1 1 2"},
      {"tcp6_two_double_colons", "TCP6 1::2::3 ::1 1 2"},
      {"tcp6_five_hex_digits", "TCP6 12345:: ::1 1 2"},
      {"tcp6_leading_colon", "TCP6 :1:2:3:4:5:6:7 ::1 1 2"},
      {"tcp6_trailing_colon", "TCP6 1:2:3:4:5:6:7: ::1 1 2"},
      {"tcp6_double_colon_for_nothing", "TCP6 1:2:3:4:5:6:7:8:: ::1 1 2"},
      {"tcp6_triple_colon", "TCP6 1:::2 ::1 1 2"},
      {"tcp6_tail_leading_zero", "TCP6 ::ffff:01.2.3.4 ::1 1 2"},
      {"tcp6_brackets", "TCP6 [::1] ::1 1 2"},
      {"tcp6_zone", "TCP6 fe80::1%eth0 ::1 1 2"},
      {"port_65536", "TCP4 1.2.3.4 5.6.7.8 65536 2"},
      {"dst_port_65536", "TCP4 1.2.3.4 5.6.7.8 1 65536"},
      {"port_leading_zero", "TCP4 1.2.3.4 5.6.7.8 0080 2"},
      {"port_00", "TCP4 1.2.3.4 5.6.7.8 00 2"},
      {"port_negative", "TCP4 1.2.3.4 5.6.7.8 -1 2"},
      {"port_plus", "TCP4 1.2.3.4 5.6.7.8 +1 2"},
      {"port_hex", "TCP4 1.2.3.4 5.6.7.8 1a 2"},
      {"port_six_digits", "TCP4 1.2.3.4 5.6.7.8 123456 2"},
      {"three_fields", "TCP4 1.2.3.4 5.6.7.8 1"},
      {"five_fields", "TCP4 1.2.3.4 5.6.7.8 1 2 3"},
      {"double_space", "TCP4 1.2.3.4  5.6.7.8 1 2"},
      {"trailing_space", "TCP4 1.2.3.4 5.6.7.8 1 2 "},
      {"tab_separator", "TCP4 1.2.3.4\t5.6.7.8 1 2"},
      {"no_fields", "TCP4 "},
  };
  for (const auto& [name, line] : bad_lines) {
    const std::string input = V1(absl::StrCat(line, "\r\n"));
    cases.push_back({name, input, E::kBadV1, input.size()});
  }
  return cases;
}

TEST(ProxyHeaderParserTest, RefusesMalformedHeadersAtTheDecidingByte) {
  for (const BadCase& c : BadCases()) {
    SCOPED_TRACE(c.name);
    const std::string input = absl::StrCat(c.input, kClientBytes);
    const Outcome o = ParseWhole(input, Versions(c.versions));
    EXPECT_EQ(o.state, State::kError);
    EXPECT_EQ(ProxyHeaderErrorName(o.error), ProxyHeaderErrorName(c.error));
    EXPECT_EQ(o.consumed, c.decided_at);
    // Nothing after the deciding byte is needed: the input cut there gives
    // the same verdict.
    EXPECT_EQ(ParseWhole(absl::string_view(input).substr(0, c.decided_at), Versions(c.versions)),
              o);
    ExpectSameOutcomeHoweverSplit(input, Versions(c.versions));
  }
}

TEST(ProxyHeaderParserTest, RefusesEveryWrongByteOfTheV2Signature) {
  const std::string header = V2(0x20, 0x00, "");
  for (size_t i = 0; i < 12; ++i) {
    std::string input = header;
    input[i] = static_cast<char>(input[i] ^ 0x40);
    const Outcome o = ParseWhole(input);
    EXPECT_EQ(o.error, ProxyHeaderError::kNotProxyProtocol) << "byte " << i;
    EXPECT_EQ(o.consumed, i + 1) << "byte " << i;
  }
}

TEST(ProxyHeaderParserTest, WaitsForIncompleteHeadersAndReportsTruncation) {
  for (const ValidCase& c : ValidCases()) {
    for (size_t cut = 0; cut < c.header.size(); ++cut) {
      ProxyHeaderParser parser;
      EXPECT_EQ(parser.Feed(absl::string_view(c.header).substr(0, cut)), cut);
      EXPECT_EQ(parser.state(), State::kNeedMore) << c.name << " cut at " << cut;
      EXPECT_GE(parser.SafeReadSize(), 1u);
      parser.OnEndOfStream();
      EXPECT_EQ(parser.state(), State::kError);
      EXPECT_EQ(parser.error(), ProxyHeaderError::kTruncated);
      EXPECT_THAT(std::string(parser.status().message()), HasSubstr("truncated"));
    }
  }
}

TEST(ProxyHeaderParserTest, VerdictIsFinal) {
  ProxyHeaderParser done;
  ASSERT_EQ(done.Feed("PROXY UNKNOWN\r\nPROXY TCP4"), 15u);
  EXPECT_EQ(done.Feed("more"), 0u);
  done.OnEndOfStream();
  EXPECT_EQ(done.state(), State::kDone);
  EXPECT_TRUE(done.status().ok());
  EXPECT_EQ(done.SafeReadSize(), 0u);
  EXPECT_EQ(done.bytes_consumed(), 15u);

  ProxyHeaderParser failed;
  ASSERT_EQ(failed.Feed("XPROXY"), 1u);
  EXPECT_EQ(failed.Feed("PROXY UNKNOWN\r\n"), 0u);
  failed.OnEndOfStream();
  EXPECT_EQ(failed.error(), ProxyHeaderError::kNotProxyProtocol);
  EXPECT_EQ(failed.SafeReadSize(), 0u);
}

TEST(ProxyHeaderParserTest, StatusNamesTheReasonAndTheField) {
  ProxyHeaderParser parser;
  parser.Feed("PROXY TCP4 256.1.1.1 5.6.7.8 1 2\r\n");
  EXPECT_EQ(parser.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(parser.status().message(),
            "bad_v1: source address \"256.1.1.1\" is not an IPv4 address");

  ProxyHeaderParser unix_socket;
  unix_socket.Feed(V2(0x21, 0x31, std::string(216, '\0')));
  EXPECT_THAT(std::string(unix_socket.status().message()),
              HasSubstr("unsupported_family: UNIX stream (0x31)"));

  ProxyHeaderParser ok;
  EXPECT_TRUE(ok.status().ok());
  EXPECT_EQ(ok.error(), ProxyHeaderError::kNone);
}

TEST(ProxyHeaderParserTest, ErrorNames) {
  EXPECT_EQ(ProxyHeaderErrorName(ProxyHeaderError::kNone), "none");
  EXPECT_EQ(ProxyHeaderErrorName(ProxyHeaderError::kNotProxyProtocol), "not_proxy_protocol");
  EXPECT_EQ(ProxyHeaderErrorName(ProxyHeaderError::kVersionNotAllowed), "version_not_allowed");
  EXPECT_EQ(ProxyHeaderErrorName(ProxyHeaderError::kBadV1), "bad_v1");
  EXPECT_EQ(ProxyHeaderErrorName(ProxyHeaderError::kBadV2), "bad_v2");
  EXPECT_EQ(ProxyHeaderErrorName(ProxyHeaderError::kUnsupportedFamily), "unsupported_family");
  EXPECT_EQ(ProxyHeaderErrorName(ProxyHeaderError::kTooLong), "too_long");
  EXPECT_EQ(ProxyHeaderErrorName(ProxyHeaderError::kTruncated), "truncated");
}

TEST(ProxyHeaderParserTest, SafeReadSizeIsExactForV2) {
  ProxyHeaderParser parser(Versions(ProxyVersions::kV2));
  EXPECT_EQ(parser.SafeReadSize(), 16u);
  const std::string header = V2(0x21, 0x11, Tcp4Block("192.0.2.1", "198.51.100.2", 1, 2));
  ASSERT_EQ(parser.Feed(absl::string_view(header).substr(0, 16)), 16u);
  EXPECT_EQ(parser.SafeReadSize(), 12u);
  ASSERT_EQ(parser.Feed(absl::string_view(header).substr(16)), 12u);
  EXPECT_EQ(parser.state(), State::kDone);
}

TEST(ProxyHeaderParserTest, SafeReadSizeStartsAtTheShortestHeader) {
  EXPECT_EQ(ProxyHeaderParser().SafeReadSize(), 15u);  // "PROXY UNKNOWN\r\n"
  EXPECT_EQ(ProxyHeaderParser(Versions(ProxyVersions::kV1)).SafeReadSize(), 15u);
  ProxyHeaderParser tcp4;
  tcp4.Feed("PROXY TCP4 ");
  EXPECT_EQ(tcp4.SafeReadSize(), 21u);  // "0.0.0.0 0.0.0.0 0 0\r\n"
  ProxyHeaderParser tcp6;
  tcp6.Feed("PROXY TCP6 ");
  EXPECT_EQ(tcp6.SafeReadSize(), 11u);  // ":: :: 0 0\r\n"
}

// The contract in the header's comment, run over a real socket: peek, feed,
// consume what was taken; the client's bytes stay queued for the session.
TEST(ProxyHeaderParserTest, PeekThenConsumeLeavesTheClientBytesInTheSocket) {
  const std::vector<std::string> headers = {
      "PROXY TCP4 192.0.2.1 198.51.100.2 56324 8888\r\n",
      V2(0x21, 0x21,
         absl::StrCat(Tcp6Block("2001:db8::1", "::1", 443, 8888),
                      Tlv(0xe0, std::string(500, 'v')))),
  };
  for (const std::string& header : headers) {
    int sv[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    const std::string sent = absl::StrCat(header, kClientBytes);
    // The header arrives in three pieces, the client's bytes with the last.
    const size_t cuts[] = {0, 7, header.size() - 1, sent.size()};
    ProxyHeaderParser parser;
    char buf[64];  // smaller than the v2 header: it is parsed through a window
    for (int piece = 0; piece < 3; ++piece) {
      ASSERT_EQ(::send(sv[1], sent.data() + cuts[piece], cuts[piece + 1] - cuts[piece], 0),
                static_cast<ssize_t>(cuts[piece + 1] - cuts[piece]));
      while (parser.state() == State::kNeedMore) {
        const ssize_t n = ::recv(sv[0], buf, sizeof(buf), MSG_PEEK);
        if (n < 0 && errno == EAGAIN) break;  // a server would wait for POLLIN
        ASSERT_GT(n, 0);
        const size_t used = parser.Feed(absl::string_view(buf, static_cast<size_t>(n)));
        ASSERT_EQ(::recv(sv[0], buf, used, 0), static_cast<ssize_t>(used));
      }
    }
    ASSERT_EQ(parser.state(), State::kDone);
    EXPECT_EQ(parser.header().length, header.size());
    const ssize_t n = ::recv(sv[0], buf, sizeof(buf), 0);
    ASSERT_GT(n, 0);
    EXPECT_EQ(absl::string_view(buf, static_cast<size_t>(n)), kClientBytes);
    ::close(sv[0]);
    ::close(sv[1]);
  }
}

}  // namespace
}  // namespace common
