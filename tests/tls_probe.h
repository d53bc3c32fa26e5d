#ifndef TESTS_TLS_PROBE_H_
#define TESTS_TLS_PROBE_H_

// TlsProbe: a TLS client connection for tests that need what neither
// `openssl s_client` nor //client can give from a script: a session held
// open across a SIGHUP, the certificate a new handshake was shown, a resumed
// session, garbage sent on the socket under an established session. Blocking
// socket with a receive timeout; OpenSSL's client with default verification
// against `ca_file`.
//
// Also TestCertificates: certificates made by `openssl req` / `openssl x509`
// in the test's temporary directory (no key is ever committed).
//
// Thread safety: none; one probe per thread.

#include <openssl/ssl.h>

#include <string>

#include "absl/time/time.h"
#include "common/unique_fd.h"

namespace tests {

struct CertPair {
  std::string cert;  // PEM paths
  std::string key;
};

// A self-signed certificate for `common_name` valid for `names` (also usable
// as its own CA), written under the test's temporary directory as
// `<stem>.crt` / `<stem>.key`. Empty paths if openssl failed.
CertPair MakeSelfSigned(const std::string& stem, const std::string& common_name,
                        const std::string& names = "DNS:localhost,IP:127.0.0.1");
// A certificate for `common_name` issued by `ca`.
CertPair MakeIssued(const std::string& stem, const std::string& common_name, const CertPair& ca);

class TlsProbe {
 public:
  struct Options {
    std::string ca_file;    // verify the server against this (always verified)
    CertPair client;        // optional client certificate
    SSL_SESSION* resume = nullptr;  // a session to offer (not taken)
    std::string prelude;            // plaintext sent before the handshake (a PROXY header)
    absl::Duration timeout = absl::Seconds(10);
  };
  TlsProbe(int port, const Options& options);
  ~TlsProbe();
  TlsProbe(const TlsProbe&) = delete;
  TlsProbe& operator=(const TlsProbe&) = delete;

  // The handshake succeeded (and the certificate verified).
  bool ok() const { return ok_; }
  // Why not, for the test's message.
  const std::string& error() const { return error_; }
  bool resumed() const { return ssl_ != nullptr && SSL_session_reused(ssl_) == 1; }
  // The server certificate's subject CN ("" if none).
  std::string PeerCommonName() const;
  // The session to resume later (a new reference: SSL_SESSION_free it).
  SSL_SESSION* TakeSession();

  bool Send(const std::string& bytes);
  // One line through '\n'; "" on EOF, error or timeout.
  std::string ReadLine();
  // Raw bytes on the socket under the TLS session (a garbage record).
  bool SendRaw(const std::string& bytes);
  // Whether the server ended the stream (EOF, alert or reset) within the
  // timeout, reading and dropping anything before that.
  bool ClosedByServer();

 private:
  common::UniqueFd socket_;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  bool ok_ = false;
  std::string error_;
  std::string buffer_;
};

}  // namespace tests

#endif  // TESTS_TLS_PROBE_H_
