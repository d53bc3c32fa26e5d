#include "server/tls/tls_transport.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <openssl/err.h>

#include <utility>

#include "common/verbose_log.h"

namespace server {
namespace {

HandshakeFailure Classify(unsigned long code) {
  if (ERR_GET_LIB(code) != ERR_LIB_SSL) return HandshakeFailure::kProtocol;
  switch (ERR_GET_REASON(code)) {
    case SSL_R_UNSUPPORTED_PROTOCOL:
    case SSL_R_VERSION_TOO_LOW:
    case SSL_R_TLSV1_ALERT_PROTOCOL_VERSION:
    case SSL_R_WRONG_SSL_VERSION:
      return HandshakeFailure::kVersion;
    case SSL_R_WRONG_VERSION_NUMBER:
    case SSL_R_HTTP_REQUEST:
    case SSL_R_HTTPS_PROXY_REQUEST:
    case SSL_R_PACKET_LENGTH_TOO_LONG:
    case SSL_R_RECORD_LENGTH_MISMATCH:
    case SSL_R_UNKNOWN_PROTOCOL:
      return HandshakeFailure::kNotTls;
    case SSL_R_CERTIFICATE_VERIFY_FAILED:
    case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE:
    case SSL_R_NO_CERTIFICATES_RETURNED:
      return HandshakeFailure::kClientCertificate;
    case SSL_R_UNEXPECTED_EOF_WHILE_READING:
      return HandshakeFailure::kClosed;
    default:
      return HandshakeFailure::kProtocol;
  }
}

constexpr IoResult kWouldBlock{IoResult::Status::kWouldBlock};

IoResult Error(int error) { return {IoResult::Status::kError, 0, error}; }

}  // namespace

TlsTransport::TlsTransport(common::UniqueFd socket, SSL* ssl, TlsCounters* counters,
                           absl::Duration handshake_timeout)
    : socket_(std::move(socket)),
      ssl_(ssl),
      counters_(counters),
      handshake_timeout_(handshake_timeout) {}

TlsTransport::~TlsTransport() { SSL_free(ssl_); }

bool TlsTransport::StartTls() {
  if (started_) return !failed_;
  started_ = true;
  if (ssl_ == nullptr || SSL_set_fd(ssl_, socket_.fd()) != 1) {
    ERR_clear_error();
    failed_ = true;
    CountFailure(HandshakeFailure::kProtocol);
    return false;
  }
  SSL_set_accept_state(ssl_);
  // A flight's records and the first reply leave in separate writes (the
  // ticket, then the welcome): without TCP_NODELAY, Nagle would hold the
  // second until the client's delayed ACK, 40 ms per handshake. Fails
  // harmlessly on a Unix socket.
  const int one = 1;
  ::setsockopt(socket_.fd(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  handshake_deadline_ = absl::Now() + handshake_timeout_;
  return true;
}

bool TlsTransport::HandshakeExpired() {
  if (handshake_done_ || absl::Now() < handshake_deadline_) return false;
  VERBOSE(1) << "TLS handshake not finished within " << handshake_timeout_;
  failed_ = true;
  CountFailure(HandshakeFailure::kTimeout);
  return true;
}

void TlsTransport::NoteHandshakeProgress() {
  if (handshake_done_ || !SSL_is_init_finished(ssl_)) return;
  handshake_done_ = true;
  TlsCounters::Add(SSL_session_reused(ssl_) ? counters_->resumed_handshakes
                                            : counters_->full_handshakes);
}

void TlsTransport::CountFailure(HandshakeFailure failure) {
  if (!handshake_done_) counters_->Fail(failure);
}

IoResult TlsTransport::OnSslError(int ret, bool reading) {
  const int error = SSL_get_error(ssl_, ret);
  const int saved_errno = errno;
  switch (error) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
      blocked_ = true;
      wants_write_ = error == SSL_ERROR_WANT_WRITE;
      NoteHandshakeProgress();
      return kWouldBlock;
    case SSL_ERROR_ZERO_RETURN:
      // close_notify, or a plain EOF (SSL_OP_IGNORE_UNEXPECTED_EOF).
      if (handshake_done_ && reading) return {IoResult::Status::kEof};
      failed_ = true;
      CountFailure(HandshakeFailure::kClosed);
      return reading ? IoResult{IoResult::Status::kEof} : Error(EPIPE);
    case SSL_ERROR_SYSCALL: {
      failed_ = true;
      CountFailure(HandshakeFailure::kClosed);
      ERR_clear_error();
      if (saved_errno == 0) return reading ? IoResult{IoResult::Status::kEof} : Error(EPIPE);
      return Error(saved_errno);
    }
    default: {
      failed_ = true;
      const unsigned long code = ERR_peek_last_error();
      if (!handshake_done_) {
        const HandshakeFailure failure = Classify(code);
        CountFailure(failure);
        if (VERBOSE_ON(1)) {
          char text[256] = "unknown error";
          if (code != 0) ERR_error_string_n(code, text, sizeof(text));
          LOG(INFO) << "TLS handshake failed (" << HandshakeFailureName(failure) << "): " << text;
        }
      }
      ERR_clear_error();
      return Error(EPROTO);
    }
  }
}

IoResult TlsTransport::Read(char* buf, size_t size) {
  if (peeked_ && !started_) {
    // The plaintext the session just peeked at (the PROXY header).
    peeked_ = false;
    IoResult r = socket_.Read(buf, size);
    r.drained = false;
    return r;
  }
  if (!StartTls()) return Error(EPROTO);
  if (HandshakeExpired()) return Error(ETIMEDOUT);
  size_t got = 0;
  const int ret = SSL_read_ex(ssl_, buf, size, &got);
  if (ret == 1) {
    blocked_ = false;
    NoteHandshakeProgress();
    return {IoResult::Status::kOk, got, 0, /*drained=*/false};
  }
  return OnSslError(ret, /*reading=*/true);
}

IoResult TlsTransport::Peek(char* buf, size_t size) {
  if (started_) return Error(EPROTO);
  peeked_ = true;
  IoResult r = socket_.Peek(buf, size);
  r.drained = false;
  return r;
}

IoResult TlsTransport::Write(const char* data, size_t size) {
  if (!StartTls()) return Error(EPROTO);
  if (HandshakeExpired()) return Error(ETIMEDOUT);
  size_t sent = 0;
  const int ret = SSL_write_ex(ssl_, data, size, &sent);
  if (ret == 1) {
    blocked_ = false;
    NoteHandshakeProgress();
    return {IoResult::Status::kOk, sent};
  }
  return OnSslError(ret, /*reading=*/false);
}

bool TlsTransport::WaitsToWrite(bool session_waits_to_write) const {
  return blocked_ ? wants_write_ : session_waits_to_write;
}

absl::Time TlsTransport::deadline() const {
  return handshake_done_ || failed_ ? absl::InfiniteFuture() : handshake_deadline_;
}

common::UniqueFd TlsTransport::ReleaseSocket() {
  if (ssl_ != nullptr && handshake_done_ && !failed_) {
    SSL_shutdown(ssl_);  // close_notify if the socket takes it; no wait for the peer's
    ERR_clear_error();
  }
  return socket_.ReleaseSocket();
}

std::unique_ptr<Transport> MakeTlsTransport(TlsContext& context, common::UniqueFd socket) {
  return std::make_unique<TlsTransport>(std::move(socket), context.NewSsl(), &context.counters(),
                                        context.handshake_timeout());
}

}  // namespace server
