#ifndef COMMON_PROXY_PROTOCOL_H_
#define COMMON_PROXY_PROTOCOL_H_

// ProxyHeaderParser: reads the PROXY protocol header (HAProxy's
// doc/proxy-protocol.txt, versions 1 and 2) that a load balancer such as
// HAProxy (`send-proxy` / `send-proxy-v2`) writes at the start of each
// connection, before the client's own bytes, so that a server behind it learns
// the client's real address instead of the proxy's.
//
// Trust. The header is believed as sent, so it may only be required on a
// listener that nothing but the proxy can reach. The spec forbids guessing
// whether a header is present: when the feature is on, a connection that does
// not start with a header is an error (kNotProxyProtocol), never "a client
// without a proxy".
//
// Non-blocking use (peek, then consume). The header must come off the socket
// and the client's first bytes, which may arrive in the same segment, must
// stay in it for the session. So the caller peeks, the parser says how many of
// the peeked bytes are header, and the caller consumes exactly those:
//
//   // Runs when the socket is readable; true once the parser has a verdict
//   // (kDone: header(); kError: error() and status()).
//   bool ReadProxyHeader(int fd, ProxyHeaderParser& parser) {
//     char buf[ProxyHeaderParser::kV1MaxLength];  // any size >= 1 works
//     while (parser.state() == ProxyHeaderParser::State::kNeedMore) {
//       ssize_t n = recv(fd, buf, sizeof(buf), MSG_PEEK);
//       if (n < 0 && errno == EAGAIN) return false;  // wait for POLLIN
//       if (n <= 0) {  // EOF, or the connection broke
//         parser.OnEndOfStream();
//         break;
//       }
//       size_t used = parser.Feed(absl::string_view(buf, n));
//       recv(fd, buf, used, 0);  // already queued: returns exactly `used`
//     }
//     return true;
//   }
//
// The caller bounds the wait with a deadline of its own (a proxy sends the
// header at once; a client that never does must not hold the connection).
//
// While the state is kNeedMore every byte fed is header (Feed returns all of
// them), so each peek starts at the first byte not yet parsed; no byte is
// parsed twice and no buffer beyond the caller's is needed, whatever the
// header's length. When the header completes, Feed returns only the header's
// bytes; the rest stays queued in the socket, and the socket stays readable
// (level-triggered pollers see it at once; an edge-triggered session must try
// a read before it first waits). A typical header (HAProxy sends it in one
// write) costs one peek and one consuming recv.
//
// A caller that cannot peek may instead recv() at most SafeReadSize() bytes
// at a time and Feed them: that never takes a byte past the end of a valid
// header. It costs more system calls: v2 takes the fixed 16 bytes, then
// exactly the rest; v1 reads a lower bound from the line's grammar (the
// shortest fields that could still follow), about six reads for a typical
// TCP4 line.
//
// Strictness. Each rule names the reason reported when it is broken.
//  * Detection: the first byte picks the version ('P' for v1, '\r' for v2's
//    signature); the signature ("PROXY " or the 12-byte v2 one) is checked
//    byte by byte, so a client that is not a proxy fails on its first wrong
//    byte (kNotProxyProtocol). A complete signature of a version the parser
//    was not configured for is kVersionNotAllowed (not kNotProxyProtocol: a
//    proxy sending v2 to a v1 listener is a configuration mistake worth
//    naming).
//  * v1 (kBadV1 unless noted): "PROXY " then "TCP4 ", "TCP6 " or "UNKNOWN",
//    checked byte by byte. The line ends at its first CR, which must be
//    followed by LF; an LF before it is an error. The whole line, CRLF
//    included, is at most 107 bytes (kTooLong when 107 bytes arrive without
//    it). "UNKNOWN" must be followed by a space or the CRLF; whatever follows
//    it is ignored, as the spec requires. For TCP4/TCP6 the rest is exactly
//    "src SP dst SP sport SP dport" (single spaces, nothing else), checked
//    once the CRLF is in (the spec's "wait for the CRLF before decoding"):
//      - TCP4 addresses: four decimal numbers 0..255 separated by dots, no
//        leading zeros ("01" could be read as octal);
//      - TCP6 addresses: RFC 4291 text (hex groups of 1-4 digits in either
//        case, at most one "::" standing for at least one zero group, an
//        optional dotted IPv4 tail under the same IPv4 rules, 128 bits in
//        all). The dotted tail is accepted because inet_ntop, and so HAProxy,
//        prints v4-mapped addresses that way; RFC 5952's shortest form is not
//        insisted on, so other senders' spellings are accepted too;
//      - ports: decimal 0..65535, no sign, no leading zeros (like addresses).
//  * v2 (kBadV2 unless noted), each field checked as soon as its byte
//    arrives: the version nibble must be 2 and the command LOCAL (0) or PROXY
//    (1). LOCAL (the proxy's own connection, e.g. a health check) means "use
//    the real peer": its family byte and payload are ignored, as the spec
//    says. PROXY: the family byte must be one the spec defines; UNSPEC (0x00)
//    is accepted as kUnknown; TCP over IPv4 (0x11) and IPv6 (0x21) carry
//    addresses; UDP (0x12, 0x22) and UNIX sockets (0x31, 0x32) are
//    kUnsupportedFamily: this is a TCP server, so such a header is a proxy
//    misconfiguration. The length must cover the family's address block
//    (12 or 36 bytes), and the header (16 + length) must not exceed
//    ProxyHeaderOptions::max_v2_length (kTooLong). After the addresses, the
//    rest must be whole TLVs (type, 2-byte length, value; a TLV that would
//    run past the end is an error, as in HAProxy); their contents are
//    skipped without being stored, so a CRC32C TLV is not verified (the spec
//    asks that only of receivers that support it).
//  * The end of the stream inside a header is kTruncated (OnEndOfStream).
//
// Errors are reported as soon as the offending byte is fed (field rules of a
// v1 line: when its LF is), and Feed's count then includes that byte. The
// parser never asks for bytes past the point where its verdict is decided.
//
// Cost: a fixed 107-byte buffer inside the object; Feed never allocates (an
// error's message is built once, when it happens); the work is linear in the
// header's length however it is split, as bytes fed earlier are never parsed
// again; v2 TLV contents are skipped in bulk.
//
// Thread safety: none; one parser belongs to one connection at a time. It is
// copyable and movable, so it can travel with the connection between threads.

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace common {

// Which header versions a listener accepts.
enum class ProxyVersions { kV1, kV2, kAny };

struct ProxyHeaderOptions {
  ProxyVersions versions = ProxyVersions::kAny;
  // Longest v2 header accepted, its 16 fixed bytes included. The default is
  // the spec's own maximum (16 + 65535): TLVs are skipped, not stored, so a
  // long header costs reading time, not memory; the server's header deadline
  // bounds that. Must be at least 52 (a TCP over IPv6 header without TLVs).
  size_t max_v2_length = 16 + 65535;
};

// Why a header was refused. Stable names (ProxyHeaderErrorName) suit logs and
// metric labels.
enum class ProxyHeaderError {
  kNone,               // no error (yet)
  kNotProxyProtocol,   // the stream starts with neither signature
  kVersionNotAllowed,  // a v1 header on a v2-only parser, or the reverse
  kBadV1,              // a v1 line that breaks the grammar above
  kBadV2,              // a v2 header with a bad version, command, family byte,
                       // length or TLV framing
  kUnsupportedFamily,  // v2 PROXY over UDP or UNIX sockets
  kTooLong,            // v1: no CRLF in 107 bytes; v2: over max_v2_length
  kTruncated,          // the stream ended inside the header
};

// "none", "not_proxy_protocol", "version_not_allowed", "bad_v1", "bad_v2",
// "unsupported_family", "too_long", "truncated".
absl::string_view ProxyHeaderErrorName(ProxyHeaderError error);

// What a complete header says about the connection.
enum class ProxyHeaderKind {
  kLocal,    // v2 LOCAL: the proxy's own connection; use the real peer
  kUnknown,  // v1 UNKNOWN or v2 PROXY UNSPEC: no usable address; use the real peer
  kProxy,    // TCP over IPv4 or IPv6: `source` is the client
};

struct ProxyHeader {
  int version = 0;  // 1 or 2
  ProxyHeaderKind kind = ProxyHeaderKind::kUnknown;
  size_t length = 0;  // bytes of the header, all consumed
  // kProxy only: sockaddr_in (AF_INET) or sockaddr_in6 (AF_INET6), ports
  // included; otherwise ss_family is AF_UNSPEC.
  sockaddr_storage source{};
  sockaddr_storage destination{};

  // "203.0.113.7:51234" or "[2001:db8::7]:51234" (the form common/socket's
  // PeerName uses); "?" unless kind is kProxy.
  std::string SourceName() const;
  std::string DestinationName() const;
};

class ProxyHeaderParser {
 public:
  enum class State { kNeedMore, kDone, kError };

  // The longest v1 line, CRLF included.
  static constexpr size_t kV1MaxLength = 107;
  // The v2 header's fixed part: signature, version/command, family, length.
  static constexpr size_t kV2FixedLength = 16;

  explicit ProxyHeaderParser(const ProxyHeaderOptions& options = ProxyHeaderOptions());

  // Parses `data`, the bytes that follow everything fed so far. Returns how
  // many of them were taken: all of them while the state stays kNeedMore; up
  // to and including the header's last byte when it becomes kDone (the rest
  // are the client's and are not looked at); up to and including the
  // offending byte when it becomes kError. Returns 0 once done or failed.
  size_t Feed(absl::string_view data);

  // The stream ended (recv returned 0): kTruncated if a header was still
  // incomplete; no effect once done or failed.
  void OnEndOfStream();

  State state() const { return state_; }

  // While kNeedMore: how many bytes a caller that cannot peek may recv() and
  // Feed without taking any byte past the end of a valid header. At least 1.
  // 0 once done or failed.
  size_t SafeReadSize() const;

  // Header bytes taken so far (the sum of Feed's results).
  size_t bytes_consumed() const { return pos_; }

  // Valid once kDone.
  const ProxyHeader& header() const { return header_; }

  // kNone unless kError.
  ProxyHeaderError error() const { return error_; }

  // OK unless kError; then InvalidArgument with "<reason name>: <detail>",
  // e.g. "bad_v1: source address \"256.1.1.1\" is not IPv4".
  const absl::Status& status() const { return status_; }

 private:
  enum class Phase : uint8_t {
    kSignature,    // "PROXY " or the v2 signature
    kV1Token,      // "TCP4 ", "TCP6 " or "UNKNOWN"
    kV1Line,       // the rest of the line, to its CRLF
    kV2Fixed,      // bytes 12..15: version/command, family, length
    kV2Addresses,  // the family's address block
    kV2Tlvs,       // TLV headers (their values are skipped in bulk)
    kV2Ignored,    // LOCAL's payload
    kFinished,
  };

  void Step(char c);
  void StepSignature(char c);
  void StepV1Token(char c);
  void StepV1Line(char c);
  void StepV2Fixed(char c);
  void StepV2Addresses(char c);
  void StepV2Tlv(char c);
  void FinishV1Line();
  void FinishV2();
  void Fail(ProxyHeaderError error, absl::string_view detail);
  bool Allowed(int version) const;

  ProxyHeaderOptions options_;
  State state_ = State::kNeedMore;
  Phase phase_ = Phase::kSignature;
  int version_ = 0;  // 1 or 2 once the first byte picked a signature
  size_t pos_ = 0;   // header bytes taken
  // v1: the line so far. v2: the fixed part and the address block (52 bytes
  // at most).
  char buf_[kV1MaxLength] = {};

  // v1 state.
  uint8_t token_candidates_ = 0;  // bit i: kV1Tokens[i] still matches
  int token_ = -1;                // the matched token, once complete
  size_t token_end_ = 0;          // where the line's rest starts
  bool cr_seen_ = false;
  int spaces_ = 0;           // TCP lines: separators seen after the token
  size_t field_length_ = 0;  // TCP lines: bytes of the current field

  // v2 state.
  uint8_t v2_command_ = 0;
  uint8_t v2_family_ = 0;
  size_t v2_address_length_ = 0;
  size_t v2_total_ = 0;   // 16 + length, once known
  size_t tlv_start_ = 0;  // where the current (or next) TLV starts
  uint8_t tlv_header_[3] = {};

  ProxyHeader header_;
  ProxyHeaderError error_ = ProxyHeaderError::kNone;
  absl::Status status_;
};

}  // namespace common

#endif  // COMMON_PROXY_PROTOCOL_H_
