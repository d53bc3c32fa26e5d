#include "server/session/socket_transport.h"

#include <errno.h>
#include <sys/socket.h>

namespace server {

IoResult SocketTransport::Receive(char* buf, size_t size, int flags) {
  for (;;) {
    const ssize_t n = ::recv(socket_.get(), buf, size, flags | MSG_DONTWAIT);
    if (n > 0) {
      const size_t got = static_cast<size_t>(n);
      return {IoResult::Status::kOk, got, 0, got < size && short_reads_prove_drained_};
    }
    if (n == 0) return {IoResult::Status::kEof};
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return {IoResult::Status::kWouldBlock};
    return {IoResult::Status::kError, 0, errno};
  }
}

IoResult SocketTransport::Read(char* buf, size_t size) { return Receive(buf, size, 0); }

IoResult SocketTransport::Peek(char* buf, size_t size) { return Receive(buf, size, MSG_PEEK); }

IoResult SocketTransport::Write(const char* data, size_t size) {
  for (;;) {
    const ssize_t n = ::send(socket_.get(), data, size, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) return {IoResult::Status::kOk, static_cast<size_t>(n)};
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return {IoResult::Status::kWouldBlock};
    return {IoResult::Status::kError, 0, n < 0 ? errno : EPIPE};
  }
}

}  // namespace server
