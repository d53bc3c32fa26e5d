#include "server/component_configs.h"

#include "absl/strings/str_cat.h"
#include "common/protocol.h"

namespace server {

SessionConfig MakeSessionConfig(const ServerOptions& options, const std::atomic<bool>* draining) {
  SessionConfig c;
  c.framing = options.framing;
  if (options.framing == common::Framing::kLine) {
    c.welcome_line = absl::StrCat(options.welcome, common::kLineEnd);
  }
  c.reply_prefix = options.reply_prefix;
  c.max_line_bytes = static_cast<size_t>(options.max_line_bytes);
  c.max_output_bytes = static_cast<size_t>(options.max_output_bytes);
  c.idle_timeout = options.idle_timeout_ms > 0 ? absl::Milliseconds(options.idle_timeout_ms)
                                               : absl::InfiniteDuration();
  c.write_timeout = absl::Milliseconds(options.write_timeout_ms);
  c.proxy_protocol = options.proxy_protocol;
  c.proxy_header_timeout = absl::Milliseconds(options.proxy_header_timeout_ms);
  c.draining = draining;
  return c;
}

Acceptor::Limits MakeAcceptorLimits(const ServerOptions& options, int64_t max_connections) {
  Acceptor::Limits limits;
  limits.policy = options.overload_policy;
  limits.framing = options.framing;
  limits.max_connections = max_connections;
  limits.queue_full_waits = options.model == Model::kEvent;
  limits.proxy_protocol = options.proxy_protocol.has_value();
  return limits;
}

TlsOptions MakeTlsOptions(const ServerOptions& options) {
  TlsOptions t;
  t.cert_file = options.tls_cert;
  t.key_file = options.tls_key;
  t.client_ca_file = options.tls_client_ca;
  t.handshake_timeout = absl::Milliseconds(options.tls_handshake_timeout_ms);
  return t;
}

}  // namespace server
