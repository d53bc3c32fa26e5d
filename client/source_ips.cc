#include "client/source_ips.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

namespace client {
namespace {

bool ParseIpv4(absl::string_view text, uint32_t* host_order) {
  in_addr a{};
  if (::inet_pton(AF_INET, std::string(text).c_str(), &a) != 1) return false;
  *host_order = ntohl(a.s_addr);
  return true;
}

std::string FormatIpv4(uint32_t host_order) {
  in_addr a{};
  a.s_addr = htonl(host_order);
  char buf[INET_ADDRSTRLEN];
  return ::inet_ntop(AF_INET, &a, buf, sizeof(buf));
}

}  // namespace

absl::StatusOr<std::vector<std::string>> ParseSourceIps(absl::string_view spec) {
  std::vector<std::string> out;
  for (absl::string_view part : absl::StrSplit(spec, ',')) {
    const std::vector<absl::string_view> ends = absl::StrSplit(part, absl::MaxSplits('-', 1));
    uint32_t first = 0, last = 0;
    if (!ParseIpv4(ends[0], &first) || !ParseIpv4(ends.size() == 2 ? ends[1] : ends[0], &last)) {
      return absl::InvalidArgumentError(
          absl::StrCat("'", part, "' is not an IPv4 address or range like 127.0.0.2-127.0.0.9"));
    }
    if (last < first) {
      return absl::InvalidArgumentError(absl::StrCat("range '", part, "' is reversed"));
    }
    if (last - first >= 65536 || out.size() + (last - first) >= 65536) {
      return absl::InvalidArgumentError("more than 65536 source addresses");
    }
    for (uint64_t ip = first; ip <= last; ++ip) {
      out.push_back(FormatIpv4(static_cast<uint32_t>(ip)));
    }
  }
  return out;
}

absl::StatusOr<common::UniqueFd> StartConnectFrom(const common::SocketAddress& peer,
                                                  const std::string& source) {
  if (peer.storage.ss_family != AF_INET) {
    return absl::InvalidArgumentError("--source_ips needs an IPv4 server address");
  }
  common::UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return common::ErrnoStatus(errno, "socket");
  const int one = 1;
  if (::setsockopt(fd.get(), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one)) != 0) {
    return common::ErrnoStatus(errno, "IP_BIND_ADDRESS_NO_PORT");
  }
  sockaddr_in local{};
  local.sin_family = AF_INET;
  if (::inet_pton(AF_INET, source.c_str(), &local.sin_addr) != 1) {
    return absl::InvalidArgumentError(absl::StrCat("bad source address ", source));
  }
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&local), sizeof(local)) != 0) {
    return common::ErrnoStatus(errno, absl::StrCat("bind ", source));
  }
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&peer.storage), peer.length) != 0 &&
      errno != EINPROGRESS) {
    return common::ErrnoStatus(errno, "connect");
  }
  (void)common::SetNoDelay(fd);
  return fd;
}

}  // namespace client
