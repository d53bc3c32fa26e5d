#ifndef SERVER_SESSION_SOCKET_TRANSPORT_H_
#define SERVER_SESSION_SOCKET_TRANSPORT_H_

// SocketTransport: a Transport over a connected, non-blocking stream socket:
// one recv() or send() per call, MSG_NOSIGNAL so a vanished peer is an error,
// not a SIGPIPE.
//
// Proof of a drained socket: on TCP, recv() returns less than asked only when
// the receive queue held no more data (tcp_recvmsg stops short only then),
// so a short read is reported `drained` and the session skips the recv()
// that would just say EAGAIN: a system call saved per round trip. Two things
// break that proof, and the driver reports both (NoteShortReadsUnproven):
// a FIN or reset queued behind the data (EPOLLRDHUP/HUP/ERR), and TCP urgent
// data (EPOLLPRI: recv() stops at the urgent mark with data still queued
// behind it). From then on this transport reads until EAGAIN.
//
// Thread safety: none (see Transport).

#include <utility>

#include "common/unique_fd.h"
#include "server/session/transport.h"

namespace server {

class SocketTransport final : public Transport {
 public:
  explicit SocketTransport(common::UniqueFd socket) : socket_(std::move(socket)) {}

  IoResult Read(char* buf, size_t size) override;
  IoResult Peek(char* buf, size_t size) override;
  IoResult Write(const char* data, size_t size) override;
  void NoteShortReadsUnproven() override { short_reads_prove_drained_ = false; }
  int fd() const override { return socket_.get(); }
  common::UniqueFd ReleaseSocket() override { return std::move(socket_); }

 private:
  IoResult Receive(char* buf, size_t size, int flags);

  common::UniqueFd socket_;
  bool short_reads_prove_drained_ = true;
};

}  // namespace server

#endif  // SERVER_SESSION_SOCKET_TRANSPORT_H_
