#ifndef SERVER_SERVER_OPTIONS_H_
#define SERVER_SERVER_OPTIONS_H_

// ServerOptions: everything a user can tune, one field per command-line flag
// (same names, same units), plus validation that names the offending flag.
// The defaults are the flags' defaults; README.md explains each choice.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/poller.h"
#include "common/protocol.h"
#include "common/proxy_protocol.h"

namespace server {

// What the acceptor does when every worker is busy and the queue is full.
enum class OverloadPolicy {
  kReject,  // accept, send the busy line, close: the client knows at once
  kBlock,   // stop accepting; new clients wait in the kernel's listen backlog
};

// How workers run sessions.
enum class Model {
  kEvent,    // each worker multiplexes many sessions over its own epoll set
  kClassic,  // each worker owns one session from welcome to close
};

using common::Framing;

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = common::kDefaultPort;
  std::string port_file;
  int listen_backlog = 511;
  Model model = Model::kEvent;
  // Event model only: the kernel interface its workers wait in. io_uring
  // falls back to epoll (one log line) where the kernel refuses it.
  common::IoBackend io = common::IoBackend::kIoUring;
  // 0 = auto: usable CPUs (event), 64 (classic). The event model runs at
  // most one worker per usable CPU: its workers never wait for a client, so
  // more than that would only add context switches. At most
  // kMaxClassicWorkers / kMaxEventWorkers.
  int workers = 0;
  int queue_capacity = 256;
  int64_t max_connections = 0;  // 0 = auto: what the descriptor limit allows
  OverloadPolicy overload_policy = OverloadPolicy::kReject;
  int64_t idle_timeout_ms = 60000;  // 0 = never time out
  int64_t write_timeout_ms = 10000;
  int64_t max_line_bytes = 8192;
  int64_t max_output_bytes = 64 * 1024;
  // SO_SNDBUF/SO_RCVBUF of every client socket (0: the kernel's autotuning,
  // up to net.ipv4.tcp_wmem/tcp_rmem's maximum, MiBs per connection).
  int64_t socket_buffer_bytes = 256 * 1024;
  std::string welcome = std::string(common::kDefaultWelcome);
  std::string reply_prefix = std::string(common::kDefaultReplyPrefix);
  Framing framing = Framing::kLine;
  // Whether connections start with a PROXY protocol header (HAProxy's
  // send-proxy / send-proxy-v2), and which versions are accepted; nullopt:
  // no header (--proxy_protocol=off).
  std::optional<common::ProxyVersions> proxy_protocol;
  int64_t proxy_header_timeout_ms = 3000;
  bool reuse_port = false;  // SO_REUSEPORT: several instances share the port
  int64_t shutdown_grace_ms = 5000;
  int64_t stats_interval_ms = 60000;  // 0 = only at shutdown
  int64_t drain_delay_ms = 0;  // on SIGTERM: not ready, still serving, this long
  // The metrics endpoint is on when metrics_port > 0, or when
  // metrics_port_file is set (then with metrics_port 0: any free port,
  // written to that file, as --port=0 with --port_file).
  int metrics_port = 0;
  std::string metrics_host = "127.0.0.1";
  std::string metrics_port_file;
  bool metrics_enabled() const { return metrics_port > 0 || !metrics_port_file.empty(); }
  // TLS is on when tls_cert is set (tls_key then required); tls_client_ca
  // makes it mutual. The files are read at start-up and on SIGHUP.
  std::string tls_cert;
  std::string tls_key;
  std::string tls_client_ca;
  int64_t tls_handshake_timeout_ms = 5000;
  bool tls_enabled() const { return !tls_cert.empty(); }

  // OK, or InvalidArgument whose message names the flag, e.g.
  // "--port must be between 0 and 65535 (got 70000)".
  absl::Status Validate() const;
};

// The largest --workers accepted. Classic: every worker is a thread (a stack
// mapping plus its guard page, a kernel task, a pid); 10,000 stays well inside
// the default pid_max (32,768, shared with the whole machine) and
// vm.max_map_count (65,530 mappings), and measured about 125 MiB resident
// idle; beyond that an operator wants the event model, which serves any
// number of clients with one worker per CPU. Event: one worker per usable CPU
// is used anyway; 4,096 is above the CPU count of any machine it runs on
// and catches a typo instead of starting 100,000 threads' worth of nothing.
inline constexpr int kMaxClassicWorkers = 10000;
inline constexpr int kMaxEventWorkers = 4096;

// The pool size `workers` resolves to (auto and cap: see above), for `cpus`
// usable CPUs.
int ResolvedWorkers(const ServerOptions& options, int cpus);

// How many server-closed sockets may linger at once (see LingeringCloser),
// given the descriptor limit (< 0: unlimited): an eighth of the table, so
// the rest stays for clients being served.
size_t MaxLingeringSockets(long fd_limit);

// The session cap `max_connections` resolves to, given the descriptor limit
// (`fd_limit` < 0: unlimited) and the resolved pool size: every session costs
// a descriptor, and the rest of the table is kept for the server's own
// descriptors and for sockets lingering after their closing line.
int64_t ResolvedMaxConnections(const ServerOptions& options, long fd_limit, int workers);

absl::StatusOr<Model> ParseModel(absl::string_view text);
absl::string_view ModelName(Model model);
absl::StatusOr<common::IoBackend> ParseIo(absl::string_view text);
absl::string_view IoName(common::IoBackend io);
absl::StatusOr<OverloadPolicy> ParseOverloadPolicy(absl::string_view text);
absl::StatusOr<std::optional<common::ProxyVersions>> ParseProxyProtocol(absl::string_view text);
absl::string_view ProxyProtocolName(std::optional<common::ProxyVersions> proxy);
absl::StatusOr<Framing> ParseFraming(absl::string_view text);
absl::string_view OverloadPolicyName(OverloadPolicy policy);
absl::string_view FramingName(Framing framing);

}  // namespace server

#endif  // SERVER_SERVER_OPTIONS_H_
