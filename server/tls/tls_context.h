#ifndef SERVER_TLS_TLS_CONTEXT_H_
#define SERVER_TLS_TLS_CONTEXT_H_

// TlsContext: the server's TLS configuration (certificate chain, key,
// optional client CA) as an OpenSSL SSL_CTX that new connections take their
// SSL object from, and the handshake counters the metrics read.
//
// Policy: TLS 1.2 and 1.3 only, OpenSSL's default cipher suites, no
// renegotiation, no compression, session resumption by stateless tickets
// (no server-side session cache to grow). SSL_MODE_RELEASE_BUFFERS: an idle
// connection holds no record buffers. With a client CA, every client must
// present a certificate that chains to it (mutual TLS).
//
// Reload (SIGHUP): Reload() builds a whole new SSL_CTX from the files; only
// if that succeeds does it replace the current one, so a bad file keeps the
// old pair. Connections already running keep the SSL_CTX they started with
// (each SSL object holds a reference to it); new handshakes use the new one.
//
// Thread safety: NewSsl() may be called from any worker thread while
// Reload() runs on the main thread (the pointer swap is mutex-guarded;
// OpenSSL 3 locks the SSL_CTX's own state). Counters are relaxed atomics.

#include <openssl/ssl.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace server {

struct TlsOptions {
  std::string cert_file;       // PEM: the certificate chain, leaf first
  std::string key_file;        // PEM: its private key
  std::string client_ca_file;  // PEM: CAs client certificates must chain to; "" = none asked
  absl::Duration handshake_timeout = absl::Seconds(5);
};

enum class HandshakeFailure {
  kTimeout,            // not finished within --tls_handshake_timeout_ms
  kClosed,             // the peer closed or reset the connection
  kVersion,            // no protocol version in common (TLS 1.1 or older)
  kNotTls,             // not a TLS record at all (plaintext, HTTP)
  kClientCertificate,  // missing or unverified client certificate
  kProtocol,           // anything else the TLS layer refused
};
inline constexpr int kHandshakeFailureKinds = 6;
const char* HandshakeFailureName(HandshakeFailure failure);

struct TlsCounters {
  std::atomic<int64_t> full_handshakes{0};
  std::atomic<int64_t> resumed_handshakes{0};
  std::array<std::atomic<int64_t>, kHandshakeFailureKinds> failures{};

  static void Add(std::atomic<int64_t>& counter) { counter.fetch_add(1, std::memory_order_relaxed); }
  void Fail(HandshakeFailure failure) { Add(failures[static_cast<int>(failure)]); }
};

struct TlsSnapshot {
  int64_t full_handshakes = 0;
  int64_t resumed_handshakes = 0;
  std::array<int64_t, kHandshakeFailureKinds> failures{};
  int64_t certificate_not_after = 0;  // Unix seconds: the leaf's notAfter
};

class TlsContext {
 public:
  // Loads and checks the files; an error names the file and OpenSSL's reason.
  static absl::StatusOr<std::unique_ptr<TlsContext>> Create(TlsOptions options);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  // Reads the same files again; on error keeps the current pair.
  absl::Status Reload();

  // A new server-side SSL object from the current SSL_CTX; null if OpenSSL
  // is out of memory. The caller frees it (SSL_free).
  SSL* NewSsl();

  TlsCounters& counters() { return counters_; }
  absl::Duration handshake_timeout() const { return options_.handshake_timeout; }
  TlsSnapshot Snapshot() const;

 private:
  TlsContext(TlsOptions options, SSL_CTX* ctx, int64_t not_after);

  const TlsOptions options_;
  TlsCounters counters_;
  mutable absl::Mutex mu_;
  SSL_CTX* ctx_ ABSL_GUARDED_BY(mu_);
  int64_t not_after_ ABSL_GUARDED_BY(mu_);
};

}  // namespace server

#endif  // SERVER_TLS_TLS_CONTEXT_H_
