#ifndef SERVER_COMPONENT_CONFIGS_H_
#define SERVER_COMPONENT_CONFIGS_H_

// ComponentConfigs: the one place where ServerOptions (one field per flag)
// becomes each component's own options struct, so components depend on their
// own small structs, not on the flags. Adding a flag touches, in order:
// server/main.cc (DEFINE and copy into ServerOptions), ServerOptions (field,
// default, Validate), the builder here for the component that uses it, and
// README's flags table (DEVELOPERS.md has the list).
//
// Thread safety: pure functions.

#include <atomic>
#include <cstdint>

#include "server/acceptor.h"
#include "server/server_options.h"
#include "server/session/session.h"
#include "server/tls/tls_context.h"

namespace server {

// `draining` is set when the server starts to drain (it must outlive the
// sessions).
SessionConfig MakeSessionConfig(const ServerOptions& options, const std::atomic<bool>* draining);

// `max_connections` is the resolved cap (ResolvedMaxConnections).
Acceptor::Limits MakeAcceptorLimits(const ServerOptions& options, int64_t max_connections);

// The TLS layer's files and handshake timeout (used only when
// options.tls_enabled()).
TlsOptions MakeTlsOptions(const ServerOptions& options);

}  // namespace server

#endif  // SERVER_COMPONENT_CONFIGS_H_
