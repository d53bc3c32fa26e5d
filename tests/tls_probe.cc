#include "tests/tls_probe.h"

#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <cerrno>

#include <vector>

#include "absl/strings/str_cat.h"
#include "common/socket.h"
#include "common/subprocess.h"

namespace tests {
namespace {

constexpr char kOpenssl[] = "/usr/bin/openssl";

bool RunOpenssl(const std::vector<std::string>& args) {
  common::Subprocess p(kOpenssl, args);
  return p.Wait(absl::Seconds(60)) == 0;
}

std::string Reason() {
  char text[256] = "unknown error";
  const unsigned long code = ERR_get_error();
  if (code != 0) ERR_error_string_n(code, text, sizeof(text));
  ERR_clear_error();
  return text;
}

}  // namespace

CertPair MakeSelfSigned(const std::string& stem, const std::string& common_name,
                        const std::string& names) {
  CertPair pair{common::TempPath(stem + ".crt"), common::TempPath(stem + ".key")};
  if (!RunOpenssl({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                   "-nodes", "-days", "2", "-subj", "/CN=" + common_name, "-addext",
                   "subjectAltName=" + names, "-keyout", pair.key, "-out",
                   pair.cert})) {
    return {};
  }
  return pair;
}

CertPair MakeIssued(const std::string& stem, const std::string& common_name, const CertPair& ca) {
  CertPair pair{common::TempPath(stem + ".crt"), common::TempPath(stem + ".key")};
  const std::string csr = common::TempPath(stem + ".csr");
  if (!RunOpenssl({"req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                   "-nodes", "-subj", "/CN=" + common_name, "-keyout", pair.key, "-out", csr}) ||
      !RunOpenssl({"x509", "-req", "-in", csr, "-CA", ca.cert, "-CAkey", ca.key,
                   "-CAcreateserial", "-days", "2", "-out", pair.cert})) {
    return {};
  }
  return pair;
}

TlsProbe::TlsProbe(int port, const Options& options) {
  auto socket = common::Connect("127.0.0.1", port, options.timeout);
  if (!socket.ok()) {
    error_ = std::string(socket.status().message());
    return;
  }
  socket_ = std::move(*socket);
  if (!options.prelude.empty() && !SendRaw(options.prelude)) {
    error_ = "cannot send the prelude";
    return;
  }
  // Blocking from here on, bounded by the socket timeouts.
  ::fcntl(socket_.get(), F_SETFL, ::fcntl(socket_.get(), F_GETFL) & ~O_NONBLOCK);
  timeval tv{static_cast<time_t>(absl::ToInt64Seconds(options.timeout)), 0};
  ::setsockopt(socket_.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::setsockopt(socket_.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  ctx_ = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
  SSL_CTX_set_options(ctx_, SSL_OP_IGNORE_UNEXPECTED_EOF);
  if (SSL_CTX_load_verify_locations(ctx_, options.ca_file.c_str(), nullptr) != 1 ||
      (!options.client.cert.empty() &&
       (SSL_CTX_use_certificate_chain_file(ctx_, options.client.cert.c_str()) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx_, options.client.key.c_str(), SSL_FILETYPE_PEM) != 1))) {
    error_ = Reason();
    return;
  }
  ssl_ = SSL_new(ctx_);
  SSL_set_fd(ssl_, socket_.get());
  SSL_set1_host(ssl_, "localhost");
  SSL_set_tlsext_host_name(ssl_, "localhost");
  if (options.resume != nullptr) SSL_set_session(ssl_, options.resume);
  if (SSL_connect(ssl_) != 1) {
    error_ = absl::StrCat("handshake: ", Reason());
    return;
  }
  ok_ = true;
}

TlsProbe::~TlsProbe() {
  // A close without close_notify would mark the session not resumable.
  if (ok_) SSL_shutdown(ssl_);
  SSL_free(ssl_);
  SSL_CTX_free(ctx_);
}

std::string TlsProbe::PeerCommonName() const {
  if (ssl_ == nullptr) return "";
  X509* cert = SSL_get1_peer_certificate(ssl_);
  if (cert == nullptr) return "";
  char name[256] = "";
  X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, name, sizeof(name));
  X509_free(cert);
  return name;
}

SSL_SESSION* TlsProbe::TakeSession() { return ssl_ != nullptr ? SSL_get1_session(ssl_) : nullptr; }

bool TlsProbe::Send(const std::string& bytes) {
  if (!ok_) return false;
  size_t sent = 0;
  return SSL_write_ex(ssl_, bytes.data(), bytes.size(), &sent) == 1 && sent == bytes.size();
}

std::string TlsProbe::ReadLine() {
  if (!ok_) return "";
  for (;;) {
    const size_t nl = buffer_.find('\n');
    if (nl != std::string::npos) {
      std::string line = buffer_.substr(0, nl + 1);
      buffer_.erase(0, nl + 1);
      return line;
    }
    char buf[4096];
    size_t got = 0;
    if (SSL_read_ex(ssl_, buf, sizeof(buf), &got) != 1) {
      ERR_clear_error();
      return "";
    }
    buffer_.append(buf, got);
  }
}

bool TlsProbe::SendRaw(const std::string& bytes) {
  return ::send(socket_.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL) ==
         static_cast<ssize_t>(bytes.size());
}

bool TlsProbe::ClosedByServer() {
  if (!ok_) return true;
  char buf[4096];
  size_t got = 0;
  while (SSL_read_ex(ssl_, buf, sizeof(buf), &got) == 1) {
  }
  const int saved_errno = errno;
  const int error = SSL_get_error(ssl_, 0);
  ERR_clear_error();
  // A receive timeout surfaces as a syscall error with EAGAIN.
  return !(error == SSL_ERROR_SYSCALL && (saved_errno == EAGAIN || saved_errno == EWOULDBLOCK));
}

}  // namespace tests
