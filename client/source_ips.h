#ifndef CLIENT_SOURCE_IPS_H_
#define CLIENT_SOURCE_IPS_H_

// Local source addresses for the load generator's connections.
//
// One local IPv4 address has about 28,000 ephemeral ports (less those in
// TIME_WAIT), which a connect-heavy or very wide run exhausts. Binding each
// connection to one of several loopback (or alias) addresses, round-robin,
// multiplies that. The bind uses IP_BIND_ADDRESS_NO_PORT, so the kernel picks
// the port at connect() time from the full 4-tuple rather than reserving one
// per address at bind() (which would cap each address at the range again).
//
// Thread safety: stateless functions.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/socket.h"
#include "common/unique_fd.h"

namespace client {

// Parses "A", "A-B" (an inclusive IPv4 range, e.g. 127.0.0.2-127.0.0.9) and
// comma-separated lists of both into numeric addresses. InvalidArgument for
// anything else, a reversed range, or more than 65536 addresses.
absl::StatusOr<std::vector<std::string>> ParseSourceIps(absl::string_view spec);

// Starts a non-blocking connect to `peer` from `source` (numeric IPv4,
// port chosen by the kernel at connect time), as common::StartConnect does.
absl::StatusOr<common::UniqueFd> StartConnectFrom(const common::SocketAddress& peer,
                                                  const std::string& source);

}  // namespace client

#endif  // CLIENT_SOURCE_IPS_H_
