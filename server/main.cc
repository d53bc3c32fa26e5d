// The echo server binary: flags -> ServerOptions, signals -> graceful stop.
//
// Exit codes: 0 after a graceful stop; 1 if start-up fails (port in use,
// permission denied, unwritable --port_file, no thread, a bad socket from
// systemd); 2 for invalid flags; 128+N when a second signal N cuts the
// graceful stop short.

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <optional>
#include <thread>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/process_init.h"
#include "common/signal_waiter.h"
#include "common/socket_activation.h"
#include "common/wakeup_fd.h"
#include "gflags/gflags.h"
#include "glog/logging.h"
#include "server/server.h"
#include "server/server_options.h"

namespace {
const server::ServerOptions kDefaults;
}  // namespace

DEFINE_string(host, kDefaults.host,
              "Address to listen on: 127.0.0.1 (loopback only), ::1, or :: / 0.0.0.0 for every "
              "interface.");
DEFINE_int32(port, kDefaults.port, "TCP port; 0 picks any free port (see --port_file).");
DEFINE_string(port_file, "",
              "If set, the bound port is written here (atomically) once listening.");
DEFINE_int32(listen_backlog, kDefaults.listen_backlog,
             "Kernel accept backlog (capped by net.core.somaxconn).");
DEFINE_string(io, "io_uring",
              "Event model: the kernel interface workers wait in, 'epoll' or 'io_uring' "
              "(falls back to epoll, with a log line, where io_uring is refused).");
DEFINE_string(model, "event",
              "How workers run sessions: 'event' (each worker multiplexes many clients over its "
              "own epoll set; every client is served at once) or 'classic' (each worker owns one "
              "client from welcome to close; clients beyond --workers wait in the queue).");
DEFINE_int32(workers, kDefaults.workers,
             "Worker threads; 0 = auto: the CPUs this process may run on (event model) or 64 "
             "(classic model, where it is the number of clients served at once).");
DEFINE_int32(queue_capacity, kDefaults.queue_capacity,
             "Accepted connections that may wait for a worker to take them.");
DEFINE_int64(max_connections, kDefaults.max_connections,
             "Most client sessions held at once (queued and served); beyond it clients get the "
             "busy line. 0 = auto: what the descriptor limit allows.");
DEFINE_string(overload_policy, "reject",
              "When the queue is full: 'reject' (send the busy line and close) or 'block' (stop "
              "accepting; clients wait in the kernel backlog).");
DEFINE_int64(idle_timeout_ms, kDefaults.idle_timeout_ms,
             "Close a client that completes no line for this long (0 = never).");
DEFINE_int64(write_timeout_ms, kDefaults.write_timeout_ms,
             "Drop a client whose pending replies make no progress for this long.");
DEFINE_int64(max_line_bytes, kDefaults.max_line_bytes,
             "Longest accepted line, excluding its terminator (\\n or \\r\\n); longer lines get "
             "an error and a close.");
DEFINE_int64(max_output_bytes, kDefaults.max_output_bytes,
             "Most reply bytes a session holds for a client that is not reading; input is not "
             "read while they wait.");
DEFINE_int64(socket_buffer_bytes, kDefaults.socket_buffer_bytes,
             "Kernel send and receive buffer of each client socket (SO_SNDBUF/SO_RCVBUF; 0 = the "
             "kernel's autotuning, up to MiBs per connection): bounds the kernel memory a client "
             "that stops reading, or floods, can tie up.");
DEFINE_string(welcome, kDefaults.welcome, "Welcome line sent on connect (line framing).");
DEFINE_string(reply_prefix, kDefaults.reply_prefix, "Prefix of every echoed line.");
DEFINE_string(framing, "line",
              "'line' (welcome + prefixed line echo) or 'raw' (plain RFC 862 echo).");
DEFINE_string(proxy_protocol, "off",
              "Connections start with a PROXY protocol header from a load balancer (HAProxy's "
              "send-proxy/send-proxy-v2): 'off', 'v1', 'v2' or 'any'. When on, a connection "
              "without a valid header is closed without the welcome. Only for a port nothing "
              "but the proxy can reach: the header is believed.");
DEFINE_int64(proxy_header_timeout_ms, kDefaults.proxy_header_timeout_ms,
             "How long a connection may take to deliver its PROXY header.");
DEFINE_bool(reuse_port, kDefaults.reuse_port,
            "SO_REUSEPORT: several instances listen on the same port and the kernel spreads new "
            "connections across them (rolling restarts; see docs/DEPLOY.md).");
DEFINE_int64(shutdown_grace_ms, kDefaults.shutdown_grace_ms,
             "On SIGINT/SIGTERM, how long running sessions get to finish.");
DEFINE_int64(stats_interval_ms, kDefaults.stats_interval_ms,
             "Log a stats line this often (0 = only at shutdown).");
DEFINE_int64(drain_delay_ms, kDefaults.drain_delay_ms,
             "On SIGTERM, report not ready on /readyz but keep accepting and serving this long "
             "before closing the listener, so a load balancer can stop sending clients first.");
DEFINE_int32(metrics_port, kDefaults.metrics_port,
             "Serve /metrics (Prometheus), /healthz and /readyz on this port (0 = off).");
DEFINE_string(metrics_host, kDefaults.metrics_host,
              "Address of the metrics port (a numeric IPv4 or IPv6 address).");
DEFINE_string(metrics_port_file, "",
              "Write the metrics port here once serving; with --metrics_port=0 this turns the "
              "endpoint on at any free port.");
DEFINE_string(tls_cert, "",
              "PEM file with the server's certificate chain (leaf first): serve TLS 1.2/1.3 "
              "only. Needs --tls_key. Re-read on SIGHUP.");
DEFINE_string(tls_key, "", "PEM file with the private key of --tls_cert. Re-read on SIGHUP.");
DEFINE_string(tls_client_ca, "",
              "PEM file of CAs: require every client to present a certificate they issued "
              "(mutual TLS). Re-read on SIGHUP.");
DEFINE_int64(tls_handshake_timeout_ms, kDefaults.tls_handshake_timeout_ms,
             "Close a connection whose TLS handshake has not finished this long after it began.");

namespace {

absl::StatusOr<server::ServerOptions> OptionsFromFlags() {
  server::ServerOptions o;
  o.host = FLAGS_host;
  o.port = FLAGS_port;
  o.port_file = FLAGS_port_file;
  o.listen_backlog = FLAGS_listen_backlog;
  auto model = server::ParseModel(FLAGS_model);
  if (!model.ok()) return model.status();
  o.model = *model;
  auto io = server::ParseIo(FLAGS_io);
  if (!io.ok()) return io.status();
  o.io = *io;
  // The default io_uring is the event model's; asked for by name with the
  // classic model, it is a mistake worth saying.
  if (o.model == server::Model::kClassic && o.io == common::IoBackend::kIoUring &&
      !gflags::GetCommandLineFlagInfoOrDie("io").is_default) {
    return absl::InvalidArgumentError(
        "--io=io_uring needs --model=event (the classic model blocks in poll on one socket)");
  }
  o.workers = FLAGS_workers;
  o.queue_capacity = FLAGS_queue_capacity;
  o.max_connections = FLAGS_max_connections;
  auto policy = server::ParseOverloadPolicy(FLAGS_overload_policy);
  if (!policy.ok()) return policy.status();
  o.overload_policy = *policy;
  o.idle_timeout_ms = FLAGS_idle_timeout_ms;
  o.write_timeout_ms = FLAGS_write_timeout_ms;
  o.max_line_bytes = FLAGS_max_line_bytes;
  o.max_output_bytes = FLAGS_max_output_bytes;
  o.socket_buffer_bytes = FLAGS_socket_buffer_bytes;
  o.welcome = FLAGS_welcome;
  o.reply_prefix = FLAGS_reply_prefix;
  auto framing = server::ParseFraming(FLAGS_framing);
  if (!framing.ok()) return framing.status();
  o.framing = *framing;
  auto proxy = server::ParseProxyProtocol(FLAGS_proxy_protocol);
  if (!proxy.ok()) return proxy.status();
  o.proxy_protocol = *proxy;
  o.proxy_header_timeout_ms = FLAGS_proxy_header_timeout_ms;
  o.reuse_port = FLAGS_reuse_port;
  o.shutdown_grace_ms = FLAGS_shutdown_grace_ms;
  o.stats_interval_ms = FLAGS_stats_interval_ms;
  o.drain_delay_ms = FLAGS_drain_delay_ms;
  o.metrics_port = FLAGS_metrics_port;
  o.metrics_host = FLAGS_metrics_host;
  o.metrics_port_file = FLAGS_metrics_port_file;
  o.tls_cert = FLAGS_tls_cert;
  o.tls_key = FLAGS_tls_key;
  o.tls_client_ca = FLAGS_tls_client_ca;
  o.tls_handshake_timeout_ms = FLAGS_tls_handshake_timeout_ms;
  absl::Status valid = o.Validate();
  if (!valid.ok()) return valid;
  return o;
}

bool IsStopSignal(int sig) { return sig == SIGINT || sig == SIGTERM; }

// Every signal the server takes but does not stop for (README.md, "Signals").
void OnOtherSignal(int sig, server::Server& server) {
  switch (sig) {
    case SIGHUP:
      server.Reload();
      break;
    case SIGUSR1:
      LOG(INFO) << "stats: " << server.StatsLine();
      break;
    default:
      LOG(INFO) << "received " << strsignal(sig) << "; ignored";
      break;
  }
}

}  // namespace

int main(int argc, char** argv) {
  common::InitProcess(
      "Thread-pool echo server.\n"
      "Usage: server [--host=H] [--port=P] [--model=event|classic] [--workers=N] ...\n"
      "Sends a welcome line, then echoes every line back with a prefix.",
      &argc, &argv);
  if (argc > 1) {
    std::cerr << "error: unexpected argument '" << argv[1] << "' (flags are --name=value)\n";
    return common::kExitUsage;
  }
  auto options = OptionsFromFlags();
  if (!options.ok()) {
    std::cerr << "error: " << options.status().message() << "\n";
    return common::kExitUsage;
  }

  // Under systemd socket activation the listening socket is descriptor 3
  // (taken before any thread starts: it edits the environment).
  auto activated = common::TakeActivatedListener();
  if (!activated.ok()) {
    std::cerr << "error: socket activation: " << activated.status().message() << "\n";
    return 1;
  }

  // Signals are taken synchronously by this thread (a signalfd), never by a
  // handler interrupting a worker: blocked before any thread starts so every
  // thread inherits the mask. See the table in README.md.
  auto signals = common::SignalWaiter::Create(
      {SIGINT, SIGTERM, SIGHUP, SIGUSR1, SIGUSR2, SIGALRM});
  common::WakeupFd stopped;
  if (!signals.ok() || !stopped.valid()) {
    std::cerr << "error: "
              << (signals.ok() ? "no eventfd for the shutdown" : signals.status().message())
              << "\n";
    return 1;
  }

  server::Server server(*options);
  if (activated->has_value()) server.UseListener(std::move(**activated));
  absl::Status started = server.Start();
  if (!started.ok()) {
    std::cerr << "error: " << started.message() << "\n";
    return 1;
  }

  int sig = 0;
  while (sig == 0) {
    const int next = *signals->Wait();
    if (IsStopSignal(next)) {
      sig = next;
    } else {
      OnOtherSignal(next, server);
    }
  }
  LOG(INFO) << "received " << strsignal(sig) << "; stopping gracefully (signal again to exit now)";
  std::thread stopper([&] {
    server.Shutdown();
    stopped.Notify();
  });
  // No tick: this thread wakes for a signal or when the stopper is done.
  while (std::optional<int> second = signals->Wait(&stopped)) {
    if (IsStopSignal(*second)) {
      LOG(WARNING) << "received " << strsignal(*second) << " again; exiting now";
      std::fflush(nullptr);
      _exit(128 + *second);
    }
    OnOtherSignal(*second, server);
  }
  stopper.join();
  return 0;
}
