#ifndef CLIENT_TLS_CLIENT_H_
#define CLIENT_TLS_CLIENT_H_

// TLS for the client (--tls): TlsClientContext holds the SSL_CTX built from
// the flags (the CA to verify the server against, or the system's store; a
// client certificate for mutual TLS; or no verification with
// --tls_insecure), and TlsClientStream speaks TLS over one connected,
// non-blocking socket for a conversation.
//
// Verification checks the chain and that the certificate names the host the
// client connected to: its DNS name, or its IP address when --host is one.
//
// Thread safety: the context is read-only after Create() and may be shared;
// a stream belongs to one thread.

#include <openssl/ssl.h>
#include <sys/types.h>

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/unique_fd.h"

namespace client {

struct TlsClientOptions {
  std::string ca_file;    // PEM; "" = the system's trust store
  bool insecure = false;  // skip verification (as curl -k)
  std::string cert_file;  // PEM client certificate (mutual TLS), with key_file
  std::string key_file;
};

class TlsClientContext {
 public:
  static absl::StatusOr<std::unique_ptr<TlsClientContext>> Create(const TlsClientOptions& options);
  ~TlsClientContext();
  TlsClientContext(const TlsClientContext&) = delete;
  TlsClientContext& operator=(const TlsClientContext&) = delete;

  // A client SSL object that will verify `host` (unless insecure); null when
  // OpenSSL is out of memory. The caller frees it.
  SSL* NewSsl(const std::string& host) const;

 private:
  TlsClientContext(SSL_CTX* ctx, bool insecure) : ctx_(ctx), insecure_(insecure) {}
  SSL_CTX* const ctx_;
  const bool insecure_;
};

class TlsClientStream {
 public:
  static constexpr ssize_t kWouldBlock = -1;
  static constexpr ssize_t kFailed = -2;

  // Takes `ssl`; `socket` (non-blocking) must outlive the stream.
  TlsClientStream(SSL* ssl, const common::UniqueFd& socket);
  ~TlsClientStream();
  TlsClientStream(const TlsClientStream&) = delete;
  TlsClientStream& operator=(const TlsClientStream&) = delete;

  // One non-blocking step of the handshake (for event loops): kDone,
  // kWouldBlock (wants_write() says for which direction) or kFailed.
  static constexpr ssize_t kDone = 1;
  ssize_t HandshakeStep();

  // Runs the handshake, waiting in poll() up to `deadline`
  // (DeadlineExceeded then); errors say why (e.g. the verification result).
  absl::Status Handshake(absl::Time deadline);

  // Bytes moved (> 0), 0 at the end of the stream (reads), kWouldBlock
  // (wants_write() says for which direction), kFailed (error() says why).
  ssize_t Read(char* buf, size_t size);
  ssize_t Write(const char* data, size_t size);
  // Decrypted bytes wait inside OpenSSL: read before polling the socket.
  bool pending() const { return SSL_pending(ssl_) > 0; }
  bool wants_write() const { return wants_write_; }
  const std::string& error() const { return error_; }
  SSL* ssl() const { return ssl_; }
  // Sends close_notify (best effort, never waits).
  void Close();

 private:
  ssize_t OnError(int ret, bool reading);

  SSL* const ssl_;
  bool wants_write_ = false;
  std::string error_;
};

}  // namespace client

#endif  // CLIENT_TLS_CLIENT_H_
