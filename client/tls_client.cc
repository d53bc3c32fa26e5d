#include "client/tls_client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <poll.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/socket.h"

namespace client {
namespace {

std::string OpenSslError() {
  const unsigned long code = ERR_get_error();
  const char* reason = code != 0 ? ERR_reason_error_string(code) : nullptr;
  ERR_clear_error();
  return reason != nullptr ? reason : "unknown error";
}

bool IsIpAddress(const std::string& host) {
  unsigned char buf[sizeof(in6_addr)];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

}  // namespace

absl::StatusOr<std::unique_ptr<TlsClientContext>> TlsClientContext::Create(
    const TlsClientOptions& options) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (ctx == nullptr) return absl::InternalError(absl::StrCat("SSL_CTX_new: ", OpenSslError()));
  std::unique_ptr<TlsClientContext> out(new TlsClientContext(ctx, options.insecure));
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  // The server may close without close_notify (a reset, a lost line): an
  // EOF like any other, which the conversation reports.
  SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
  if (!options.insecure) {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
    const int loaded = options.ca_file.empty()
                           ? SSL_CTX_set_default_verify_paths(ctx)
                           : SSL_CTX_load_verify_locations(ctx, options.ca_file.c_str(), nullptr);
    if (loaded != 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("--tls_ca=", options.ca_file, ": ", OpenSslError()));
    }
  }
  if (options.cert_file.empty() != options.key_file.empty()) {
    return absl::InvalidArgumentError("--tls_cert and --tls_key go together");
  }
  if (!options.cert_file.empty()) {
    if (SSL_CTX_use_certificate_chain_file(ctx, options.cert_file.c_str()) != 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("--tls_cert=", options.cert_file, ": ", OpenSslError()));
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, options.key_file.c_str(), SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("--tls_key=", options.key_file, ": ", OpenSslError()));
    }
  }
  return out;
}

TlsClientContext::~TlsClientContext() { SSL_CTX_free(ctx_); }

SSL* TlsClientContext::NewSsl(const std::string& host) const {
  SSL* ssl = SSL_new(ctx_);
  if (ssl == nullptr) return nullptr;
  if (IsIpAddress(host)) {
    if (!insecure_) X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host.c_str());
  } else {
    SSL_set_tlsext_host_name(ssl, host.c_str());
    if (!insecure_) SSL_set1_host(ssl, host.c_str());
  }
  return ssl;
}

TlsClientStream::TlsClientStream(SSL* ssl, const common::UniqueFd& socket) : ssl_(ssl) {
  SSL_set_fd(ssl_, socket.get());
  SSL_set_connect_state(ssl_);
}

TlsClientStream::~TlsClientStream() { SSL_free(ssl_); }

ssize_t TlsClientStream::HandshakeStep() {
  const int ret = SSL_do_handshake(ssl_);
  if (ret == 1) return kDone;
  const ssize_t r = OnError(ret, /*reading=*/false);
  return r == kWouldBlock ? kWouldBlock : kFailed;
}

absl::Status TlsClientStream::Handshake(absl::Time deadline) {
  for (;;) {
    const int ret = SSL_do_handshake(ssl_);
    if (ret == 1) return absl::OkStatus();
    const int error = SSL_get_error(ssl_, ret);
    if (error != SSL_ERROR_WANT_READ && error != SSL_ERROR_WANT_WRITE) {
      const long verify = SSL_get_verify_result(ssl_);
      std::string why = verify != X509_V_OK
                            ? absl::StrCat("certificate verify failed: ",
                                           X509_verify_cert_error_string(verify))
                            : error == SSL_ERROR_SYSCALL ? "connection closed" : OpenSslError();
      ERR_clear_error();
      return absl::UnavailableError(absl::StrCat("TLS handshake failed: ", why));
    }
    pollfd fd{SSL_get_fd(ssl_), static_cast<short>(error == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT),
              0};
    const int rc = ::poll(&fd, 1, common::PollTimeoutMs(deadline));
    if (rc < 0 && errno != EINTR) return absl::InternalError(std::strerror(errno));
    if (rc == 0) return absl::DeadlineExceededError("timed out in the TLS handshake");
  }
}

ssize_t TlsClientStream::OnError(int ret, bool reading) {
  const int error = SSL_get_error(ssl_, ret);
  switch (error) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
      wants_write_ = error == SSL_ERROR_WANT_WRITE;
      return kWouldBlock;
    case SSL_ERROR_ZERO_RETURN:
      if (reading) return 0;
      error_ = "the server closed the TLS stream";
      return kFailed;
    case SSL_ERROR_SYSCALL:
      ERR_clear_error();
      if (errno == 0 && reading) return 0;
      error_ = errno != 0 ? std::strerror(errno) : "connection closed";
      return kFailed;
    default:
      error_ = OpenSslError();
      return kFailed;
  }
}

ssize_t TlsClientStream::Read(char* buf, size_t size) {
  size_t got = 0;
  const int ret = SSL_read_ex(ssl_, buf, size, &got);
  if (ret == 1) {
    wants_write_ = false;
    return static_cast<ssize_t>(got);
  }
  return OnError(ret, /*reading=*/true);
}

ssize_t TlsClientStream::Write(const char* data, size_t size) {
  size_t sent = 0;
  const int ret = SSL_write_ex(ssl_, data, size, &sent);
  if (ret == 1) {
    wants_write_ = false;
    return static_cast<ssize_t>(sent);
  }
  return OnError(ret, /*reading=*/false);
}

void TlsClientStream::Close() {
  SSL_shutdown(ssl_);
  ERR_clear_error();
}

}  // namespace client
