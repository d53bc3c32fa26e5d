#ifndef SERVER_TLS_TLS_TRANSPORT_H_
#define SERVER_TLS_TLS_TRANSPORT_H_

// TlsTransport: a Transport that speaks TLS (server side) over a
// non-blocking SocketTransport, so the session's state machine runs
// unchanged: its Read and Write are SSL_read and SSL_write, and the first of
// them drives the handshake.
//
// Never blocks: SSL_ERROR_WANT_READ / WANT_WRITE become kWouldBlock, and
// WaitsToWrite() tells the driver which direction OpenSSL waits for, which
// may be the other one than the session's (the handshake must read before
// the welcome goes out; a read may first have to write a ticket). Either
// way OpenSSL stopped on EAGAIN from the socket, so an edge-triggered
// driver's next readiness report is due. Reads never claim `drained`: OpenSSL
// may hold decrypted bytes or a whole record, so the session reads on until
// kWouldBlock.
//
// The handshake has a deadline (handshake_timeout from the first TLS call):
// deadline() reports it and, once past, Read and Write fail, so a client that
// stalls mid-handshake is closed like any failed connection; it holds its
// place in --max_connections until then, and a worker thread never waits.
//
// PROXY header: the bytes before TLS are plaintext. Peek() looks at the
// socket itself, and the Read() that follows a Peek() consumes the peeked
// bytes raw (the session peeks, then takes exactly the header). Peek() once
// TLS has started is an error.
//
// Memory: the SSL_CTX sets SSL_MODE_RELEASE_BUFFERS, so between records the
// connection holds the SSL object and its session, not record buffers.
//
// Close: ReleaseSocket() (the server spoke last; the socket goes to the
// lingering closer) first sends close_notify if the handshake completed and
// nothing failed, without waiting for the peer's.
//
// Thread safety: none; one session's, run by one thread at a time and handed
// over through mutexes (its SSL object moves with it).

#include <openssl/ssl.h>

#include <memory>

#include "absl/time/time.h"
#include "common/unique_fd.h"
#include "server/session/socket_transport.h"
#include "server/session/transport.h"
#include "server/tls/tls_context.h"

namespace server {

class TlsTransport final : public Transport {
 public:
  // Takes `ssl` (null: out of memory, every call fails). `counters` must
  // outlive the transport.
  TlsTransport(common::UniqueFd socket, SSL* ssl, TlsCounters* counters,
               absl::Duration handshake_timeout);
  ~TlsTransport() override;

  IoResult Read(char* buf, size_t size) override;
  IoResult Peek(char* buf, size_t size) override;
  IoResult Write(const char* data, size_t size) override;
  void NoteShortReadsUnproven() override { socket_.NoteShortReadsUnproven(); }
  bool WaitsToWrite(bool session_waits_to_write) const override;
  absl::Time deadline() const override;
  int fd() const override { return socket_.fd(); }
  common::UniqueFd ReleaseSocket() override;

 private:
  // Before the first SSL call: attach the socket, start the handshake clock.
  bool StartTls();
  // After an SSL call returned `ret` <= 0.
  IoResult OnSslError(int ret, bool reading);
  // Past the handshake deadline: counts and fails.
  bool HandshakeExpired();
  void NoteHandshakeProgress();
  void CountFailure(HandshakeFailure failure);

  SocketTransport socket_;
  SSL* ssl_;
  TlsCounters* const counters_;
  const absl::Duration handshake_timeout_;
  bool started_ = false;
  bool handshake_done_ = false;
  bool failed_ = false;
  bool blocked_ = false;      // the last call said kWouldBlock
  bool wants_write_ = false;  // ... waiting for writability
  bool peeked_ = false;       // a Peek() of plaintext awaits its Read()
  absl::Time handshake_deadline_ = absl::InfiniteFuture();
};

// A TlsTransport for a new connection, with an SSL object from `context`
// (which must outlive it). Thread-safe.
std::unique_ptr<Transport> MakeTlsTransport(TlsContext& context, common::UniqueFd socket);

}  // namespace server

#endif  // SERVER_TLS_TLS_TRANSPORT_H_
