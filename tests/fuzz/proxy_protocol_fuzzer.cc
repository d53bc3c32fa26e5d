// libFuzzer target for ProxyHeaderParser: the first bytes of a connection,
// fed in arbitrary pieces, must get the verdict a whole-buffer reference
// reading gives (tests/fuzz/reference_proxy_protocol.h).
//
// Input layout: byte 0 picks the accepted versions (byte % 3: v1, v2, any)
// and, with its top bit set, a small v2 length limit (52 + low 7 bits); byte
// 1 seeds the piece sizes; the rest is what the connection carries. Checked
// for pieces of fuzzer-chosen sizes, for reads of SafeReadSize() and for
// single bytes:
//  * same outcome as the reference: reason, header length, version, kind,
//    addresses and ports;
//  * the verdict arrives with the byte that decides it, never later, and
//    Feed takes nothing past that byte (the client's bytes stay unread);
//  * while more is needed, every byte fed is taken and SafeReadSize() is at
//    least 1 and never reaches past the end of a valid header;
//  * an input that ends early is incomplete for both, and then truncated.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/proxy_protocol.h"
#include "tests/fuzz/reference_framing.h"
#include "tests/fuzz/reference_proxy_protocol.h"

namespace {

using common::ProxyHeaderParser;
using fuzz::Check;
using fuzz::ReferenceProxyHeader;
using State = ProxyHeaderParser::State;
using Outcome = ReferenceProxyHeader::Outcome;

// The reference's address, formatted the way ProxyHeader names addresses.
std::string ExpectedName(const std::string& address, uint16_t port) {
  char text[INET6_ADDRSTRLEN];
  if (address.size() == 4) {
    inet_ntop(AF_INET, address.data(), text, sizeof(text));
    return absl::StrCat(text, ":", port);
  }
  inet_ntop(AF_INET6, address.data(), text, sizeof(text));
  return absl::StrCat("[", text, "]:", port);
}

void CheckAddress(const sockaddr_storage& got, const std::string& address, uint16_t port) {
  if (address.size() == 4) {
    Check(got.ss_family == AF_INET, "address family differs (want IPv4)");
    const auto* in = reinterpret_cast<const sockaddr_in*>(&got);
    Check(std::memcmp(&in->sin_addr, address.data(), 4) == 0, "IPv4 address differs");
    Check(ntohs(in->sin_port) == port, "port differs");
  } else {
    Check(got.ss_family == AF_INET6, "address family differs (want IPv6)");
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&got);
    Check(std::memcmp(&in6->sin6_addr, address.data(), 16) == 0, "IPv6 address differs");
    Check(ntohs(in6->sin6_port) == port, "port differs");
  }
}

void CheckVerdict(const ProxyHeaderParser& parser, const ReferenceProxyHeader& expected) {
  if (expected.outcome == Outcome::kError) {
    Check(parser.state() == State::kError, "accepted what the reference refuses");
    Check(parser.error() == expected.error, "error reason differs from the reference");
    Check(parser.bytes_consumed() == expected.decided_at, "error at a different byte");
    Check(absl::StartsWith(parser.status().message(),
                           absl::StrCat(common::ProxyHeaderErrorName(expected.error), ": ")),
          "status message does not start with the reason");
    return;
  }
  Check(parser.state() == State::kDone, "refused what the reference accepts");
  Check(parser.status().ok(), "status not OK after a header");
  const common::ProxyHeader& header = parser.header();
  Check(header.length == expected.decided_at, "header length differs");
  Check(parser.bytes_consumed() == header.length, "took bytes past the header");
  Check(header.version == expected.version, "version differs");
  Check(header.kind == expected.kind, "kind differs");
  if (header.kind != common::ProxyHeaderKind::kProxy) {
    Check(header.source.ss_family == AF_UNSPEC && header.destination.ss_family == AF_UNSPEC,
          "addresses set without PROXY");
    Check(header.SourceName() == "?" && header.DestinationName() == "?", "names without PROXY");
    return;
  }
  CheckAddress(header.source, expected.source_address, expected.source_port);
  CheckAddress(header.destination, expected.destination_address, expected.destination_port);
  Check(header.SourceName() == ExpectedName(expected.source_address, expected.source_port),
        "source name differs");
  Check(header.DestinationName() ==
            ExpectedName(expected.destination_address, expected.destination_port),
        "destination name differs");
}

// Feeds `stream` in pieces of `next_size(parser)` bytes and checks every
// step, then the verdict.
template <typename NextSize>
void Run(absl::string_view stream, const common::ProxyHeaderOptions& options,
         const ReferenceProxyHeader& expected, NextSize next_size) {
  ProxyHeaderParser parser(options);
  size_t pos = 0;
  while (pos < stream.size() && parser.state() == State::kNeedMore) {
    Check(parser.SafeReadSize() >= 1, "SafeReadSize is 0 while more is needed");
    if (expected.outcome == Outcome::kDone) {
      Check(pos + parser.SafeReadSize() <= expected.decided_at,
            "SafeReadSize reaches past the header's end");
    }
    const absl::string_view piece = stream.substr(pos, next_size(parser));
    const size_t used = parser.Feed(piece);
    Check(used <= piece.size(), "took more than it was given");
    if (parser.state() == State::kNeedMore) {
      Check(used == piece.size(), "left bytes while needing more");
      Check(expected.outcome == Outcome::kNeedMore || pos + used < expected.decided_at,
            "still needs more after the deciding byte");
    } else {
      Check(expected.outcome != Outcome::kNeedMore, "a verdict where the reference needs more");
      Check(pos + used == expected.decided_at, "verdict not at the deciding byte");
    }
    pos += used;
  }
  Check(parser.bytes_consumed() == pos, "bytes_consumed differs from Feed's sum");
  if (parser.state() == State::kNeedMore) {
    Check(expected.outcome == Outcome::kNeedMore, "needs more where the reference has a verdict");
    parser.OnEndOfStream();
    Check(parser.error() == common::ProxyHeaderError::kTruncated, "not truncated at the end");
    return;
  }
  CheckVerdict(parser, expected);
  Check(parser.Feed(stream) == 0, "took bytes after its verdict");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  static constexpr common::ProxyVersions kVersions[] = {
      common::ProxyVersions::kV1, common::ProxyVersions::kV2, common::ProxyVersions::kAny};
  common::ProxyHeaderOptions options;
  options.versions = kVersions[data[0] % 3];
  if ((data[0] & 0x80) != 0) options.max_v2_length = 52 + (data[0] & 0x7f);
  const uint32_t seed = data[1];
  const absl::string_view stream(reinterpret_cast<const char*>(data + 2), size - 2);

  const ReferenceProxyHeader expected =
      fuzz::ReferenceParseProxyHeader(stream, options.versions, options.max_v2_length);

  uint32_t state = seed;
  Run(stream, options, expected, [&state](const ProxyHeaderParser&) {
    state = state * 1103515245u + 12345u;
    return 1 + (state >> 16) % 128;
  });
  Run(stream, options, expected,
      [](const ProxyHeaderParser& parser) { return parser.SafeReadSize(); });
  // A byte at a time: SafeReadSize is checked after every prefix.
  Run(stream, options, expected, [](const ProxyHeaderParser&) { return size_t{1}; });
  return 0;
}
