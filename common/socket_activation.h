#ifndef COMMON_SOCKET_ACTIVATION_H_
#define COMMON_SOCKET_ACTIVATION_H_

// systemd socket activation (sd_listen_fds(3)) for a server with one
// listening socket, without linking libsystemd.
//
// With socket activation, systemd creates, binds and listens on the socket
// (a .socket unit's ListenStream=) and keeps it open across restarts of the
// service, so clients that connect while the server restarts wait in the
// kernel's backlog instead of being refused. The service inherits it as
// descriptor 3 (SD_LISTEN_FDS_START), with LISTEN_PID set to the service's
// pid and LISTEN_FDS to the number of descriptors passed.
// `systemd-socket-activate -l ADDRESS:PORT COMMAND` does the same without
// systemd as init, e.g. for tests.
//
// TakeActivatedListener():
//  * returns nullopt (not activated) if LISTEN_PID is unset or names another
//    process (the variables were meant for an ancestor), or LISTEN_FDS is
//    unset;
//  * otherwise requires LISTEN_FDS to be exactly 1 (the server takes exactly
//    one socket: one ListenStream= in the .socket unit) and descriptor 3 to
//    be a listening TCP socket (IPv4 or IPv6; not Accept=yes, which passes
//    connections), and takes ownership of it, made non-blocking and
//    close-on-exec like every socket from common/socket.h;
//  * in every case removes LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES from the
//    environment (as sd_listen_fds(1) does), so child processes do not take
//    them for their own.
// Errors: InvalidArgument for a malformed LISTEN_PID or LISTEN_FDS;
// FailedPrecondition if systemd passed something else than one listening TCP
// socket (descriptor 3 is then left as it is).
//
// An activated server listens where systemd chose: its own --host/--port do
// not apply, and common::BoundPort() tells the port.
//
// Thread safety: call once, from main() before any thread starts (it
// modifies the environment, which is not thread-safe).

#include <optional>

#include "absl/status/statusor.h"
#include "common/unique_fd.h"

namespace common {

// The first descriptor systemd passes (SD_LISTEN_FDS_START).
inline constexpr int kListenFdsStart = 3;

absl::StatusOr<std::optional<UniqueFd>> TakeActivatedListener();

}  // namespace common

#endif  // COMMON_SOCKET_ACTIVATION_H_
