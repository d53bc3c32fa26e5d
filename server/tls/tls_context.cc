#include "server/tls/tls_context.h"

#include <openssl/err.h>
#include <openssl/x509.h>
#include <time.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include <utility>

#include "absl/strings/str_cat.h"

namespace server {
namespace {

constexpr unsigned char kSessionIdContext[] = "echo_server";

// OpenSSL's first reason for the last failure (the most specific one, e.g.
// "no start line", "key values mismatch"); empties the error queue.
std::string OpenSslError() {
  const unsigned long code = ERR_get_error();
  const char* reason = code != 0 ? ERR_reason_error_string(code) : nullptr;
  ERR_clear_error();
  return reason != nullptr ? reason : "unknown error";
}

absl::Status Failed(absl::string_view what, const std::string& file) {
  return absl::InvalidArgumentError(absl::StrCat(what, "=", file, ": ", OpenSslError()));
}

// OpenSSL says only "system lib" for a file it cannot open: ask first.
absl::Status CheckReadable(absl::string_view what, const std::string& file) {
  FILE* f = std::fopen(file.c_str(), "r");
  if (f == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(what, "=", file, ": ", std::strerror(errno)));
  }
  std::fclose(f);
  return absl::OkStatus();
}

struct CtxDeleter {
  void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
};
using CtxPtr = std::unique_ptr<SSL_CTX, CtxDeleter>;

absl::StatusOr<CtxPtr> BuildContext(const TlsOptions& options) {
  for (const auto& [what, file] : {std::pair<absl::string_view, const std::string&>{
                                       "--tls_cert", options.cert_file},
                                   {"--tls_key", options.key_file},
                                   {"--tls_client_ca", options.client_ca_file}}) {
    if (file.empty()) continue;
    absl::Status readable = CheckReadable(what, file);
    if (!readable.ok()) return readable;
  }
  CtxPtr ctx(SSL_CTX_new(TLS_server_method()));
  if (ctx == nullptr) return absl::InternalError(absl::StrCat("SSL_CTX_new: ", OpenSslError()));
  SSL_CTX* c = ctx.get();
  SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
  SSL_CTX_set_max_proto_version(c, TLS1_3_VERSION);
  // A client closing without close_notify ends its session like a TCP EOF
  // (an echo stream has no length to truncate).
  SSL_CTX_set_options(c, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
                             SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_IGNORE_UNEXPECTED_EOF);
  // Partial writes and a moving buffer: the session retries a blocked write
  // from its own buffer, which may have been reallocated meanwhile.
  SSL_CTX_set_mode(c, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
                          SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  // Stateless tickets resume sessions; no cache grows with the clients.
  // Read whole records (and what follows) in one read(): without it each
  // record costs two, its header and its body.
  SSL_CTX_set_read_ahead(c, 1);
  SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_num_tickets(c, 1);
  SSL_CTX_set_session_id_context(c, kSessionIdContext, sizeof(kSessionIdContext) - 1);
  if (SSL_CTX_use_certificate_chain_file(c, options.cert_file.c_str()) != 1) {
    return Failed("--tls_cert", options.cert_file);
  }
  if (SSL_CTX_use_PrivateKey_file(c, options.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    return Failed("--tls_key", options.key_file);
  }
  if (SSL_CTX_check_private_key(c) != 1) {
    return Failed("--tls_key", options.key_file);
  }
  if (!options.client_ca_file.empty()) {
    if (SSL_CTX_load_verify_locations(c, options.client_ca_file.c_str(), nullptr) != 1) {
      return Failed("--tls_client_ca", options.client_ca_file);
    }
    STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(options.client_ca_file.c_str());
    if (names == nullptr) return Failed("--tls_client_ca", options.client_ca_file);
    SSL_CTX_set_client_CA_list(c, names);
    SSL_CTX_set_verify(c, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  }
  return ctx;
}

int64_t NotAfter(SSL_CTX* ctx) {
  X509* cert = SSL_CTX_get0_certificate(ctx);
  if (cert == nullptr) return 0;
  struct tm tm {};
  if (ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm) != 1) return 0;
  return static_cast<int64_t>(timegm(&tm));
}

}  // namespace

const char* HandshakeFailureName(HandshakeFailure failure) {
  switch (failure) {
    case HandshakeFailure::kTimeout:
      return "timeout";
    case HandshakeFailure::kClosed:
      return "closed";
    case HandshakeFailure::kVersion:
      return "version";
    case HandshakeFailure::kNotTls:
      return "not_tls";
    case HandshakeFailure::kClientCertificate:
      return "client_certificate";
    case HandshakeFailure::kProtocol:
      return "protocol";
  }
  return "?";
}

absl::StatusOr<std::unique_ptr<TlsContext>> TlsContext::Create(TlsOptions options) {
  absl::StatusOr<CtxPtr> ctx = BuildContext(options);
  if (!ctx.ok()) return ctx.status();
  const int64_t not_after = NotAfter(ctx->get());
  return std::unique_ptr<TlsContext>(new TlsContext(std::move(options), ctx->release(), not_after));
}

TlsContext::TlsContext(TlsOptions options, SSL_CTX* ctx, int64_t not_after)
    : options_(std::move(options)), ctx_(ctx), not_after_(not_after) {}

TlsContext::~TlsContext() {
  absl::MutexLock lock(&mu_);
  SSL_CTX_free(ctx_);
}

absl::Status TlsContext::Reload() {
  absl::StatusOr<CtxPtr> ctx = BuildContext(options_);
  if (!ctx.ok()) return ctx.status();
  const int64_t not_after = NotAfter(ctx->get());
  SSL_CTX* old = nullptr;
  {
    absl::MutexLock lock(&mu_);
    old = ctx_;
    ctx_ = ctx->release();
    not_after_ = not_after;
  }
  SSL_CTX_free(old);  // running connections hold their own references
  return absl::OkStatus();
}

SSL* TlsContext::NewSsl() {
  absl::ReaderMutexLock lock(&mu_);
  SSL* ssl = SSL_new(ctx_);
  if (ssl == nullptr) ERR_clear_error();
  return ssl;
}

TlsSnapshot TlsContext::Snapshot() const {
  TlsSnapshot s;
  s.full_handshakes = counters_.full_handshakes.load(std::memory_order_relaxed);
  s.resumed_handshakes = counters_.resumed_handshakes.load(std::memory_order_relaxed);
  for (int i = 0; i < kHandshakeFailureKinds; ++i) {
    s.failures[i] = counters_.failures[i].load(std::memory_order_relaxed);
  }
  absl::ReaderMutexLock lock(&mu_);
  s.certificate_not_after = not_after_;
  return s;
}

}  // namespace server
