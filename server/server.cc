#include "server/server.h"

#include <sys/resource.h>

#include <algorithm>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/fd_limit.h"
#include "common/port_file.h"
#include "common/protocol.h"
#include "common/socket.h"
#include "common/thread_starter.h"
#include "glog/logging.h"
#include "server/closing_line.h"
#include "server/classic/classic_pool.h"
#include "server/component_configs.h"
#include "server/event/event_pool.h"
#include "server/metrics/metrics_endpoint.h"
#include "server/metrics/process_metrics.h"
#include "server/metrics/server_metrics.h"
#include "server/metrics/tls_metrics.h"
#include "server/tls/tls_transport.h"

namespace server {
namespace {

// How long a server-closed socket may linger for the client to hang up.
constexpr absl::Duration kLinger = absl::Seconds(2);
// A worker whose turn has lasted this long is wedged: /healthz says so. (A
// turn is bounded work: each session runs at most once per turn, for at most
// Session::kTurnBytes.)
constexpr absl::Duration kWedged = absl::Seconds(10);

}  // namespace

Server::Server(ServerOptions options)
    : options_(std::move(options)),
      session_config_(MakeSessionConfig(options_, &draining_)),
      queue_(static_cast<size_t>(options_.queue_capacity)) {}

Server::~Server() { Shutdown(); }

void Server::UseListener(common::UniqueFd listener) {
  CHECK(!running_) << "UseListener() after Start()";
  inherited_listener_ = std::move(listener);
}

absl::Status Server::Start() {
  CHECK(!running_) << "Start() called twice";
  if (options_.tls_enabled()) {
    // First: a bad certificate or key stops the start before anything binds.
    auto tls = TlsContext::Create(MakeTlsOptions(options_));
    if (!tls.ok()) return tls.status();
    tls_ = std::move(*tls);
  }
  // Every client costs a descriptor: take all the kernel allows.
  const long fd_limit = common::RaiseFdLimitToMax();
  const int cpus = common::UsableCpus();
  workers_ = ResolvedWorkers(options_, cpus);
  if (options_.workers > workers_) {
    LOG(WARNING) << "--workers=" << options_.workers << " capped at " << workers_
                 << ": the event model runs one worker per usable CPU (its workers never wait "
                 << "for a client, so more would only take turns on the same CPUs)";
  }
  max_connections_ = ResolvedMaxConnections(options_, fd_limit, workers_);
  // Only the event model waits in a poller; the classic one blocks in poll().
  io_ = options_.model == Model::kEvent ? options_.io : common::IoBackend::kEpoll;
  if (io_ == common::IoBackend::kIoUring) {
    absl::Status usable = common::ProbeIoUring();
    if (!usable.ok()) {
      LOG(WARNING) << "--io=io_uring: io_uring is not available (" << usable.message()
                   << "); serving with epoll";
      io_ = common::IoBackend::kEpoll;
    }
  }
  const bool inherited = inherited_listener_.valid();
  auto listener = inherited
                      ? absl::StatusOr<common::UniqueFd>(std::move(inherited_listener_))
                      : common::Listen(options_.host, options_.port, options_.listen_backlog,
                                       options_.reuse_port);
  if (!listener.ok()) return listener.status();
  if (options_.socket_buffer_bytes > 0) {
    // Set on the listener, inherited by every accepted socket.
    absl::Status buffers = common::SetSocketBuffers(
        *listener, static_cast<int>(options_.socket_buffer_bytes));
    if (!buffers.ok()) return buffers;
  }
  auto port = common::BoundPort(*listener);
  if (!port.ok()) return port.status();
  port_ = *port;

  {
    absl::MutexLock lock(&stats_line_mu_);
    last_line_at_ = absl::Now();  // rates in the first line count from here
  }
  absl::Status started = StartThreads(std::move(*listener), fd_limit);
  if (!started.ok()) {
    Stop();  // whatever did start: nothing may be left running
    return absl::Status(started.code(), absl::StrCat("cannot start: ", started.message()));
  }
  if (options_.metrics_enabled()) {
    absl::Status metrics = StartMetrics();
    if (!metrics.ok()) {
      Stop();
      return metrics;
    }
  }
  // Last: the port file tells scripts the server is ready to serve.
  if (!options_.port_file.empty()) {
    absl::Status written = common::WritePortFile(options_.port_file, port_, &port_file_inode_);
    if (!written.ok()) {
      Stop();
      return written;
    }
  }
  running_ = true;
  ready_.store(true, std::memory_order_release);

  if (inherited) {
    LOG(INFO) << "serving on the listening socket passed by systemd (port " << port_
              << "); --host and --port do not apply";
  }
  if (metrics_) LOG(INFO) << "metrics, /healthz and /readyz on http://" << metrics_->address();
  LOG(INFO) << "listening on " << (inherited ? "inherited socket" : options_.host) << " port "
            << port_ << " model=" << ModelName(options_.model)
            << (options_.model == Model::kEvent ? absl::StrCat(" io=", IoName(io_)) : "")
            << (options_.model == Model::kEvent && io_ == common::IoBackend::kIoUring
                    ? (common::UringReceivesMultishot()
                           ? " (multishot receives)"
                           : " (one-shot receives: multishot ones need kernel 6.17)")
                    : "")
            << " workers=" << workers_
            << (options_.workers != 0 ? ""
                : options_.model == Model::kEvent
                    ? absl::StrCat(" (auto: ", cpus, " usable CPUs)")
                    : std::string(" (auto: the classic model's default)"))
            << " max_connections=" << max_connections_
            << (options_.max_connections == 0
                    ? absl::StrCat(" (auto: descriptor limit ", fd_limit, ")")
                    : "")
            << " queue_capacity=" << options_.queue_capacity
            << (options_.model == Model::kClassic
                    ? absl::StrCat(" overload_policy=",
                                   OverloadPolicyName(options_.overload_policy))
                    : std::string())  // the event model's queue never holds anyone back
            << " framing=" << FramingName(options_.framing)
            << " proxy_protocol=" << ProxyProtocolName(options_.proxy_protocol)
            << (options_.reuse_port ? " reuse_port" : "")
            << (tls_ == nullptr ? ""
                : options_.tls_client_ca.empty() ? " tls"
                                                 : " tls (client certificates required)");
  return absl::OkStatus();
}

void Server::Reload() {
  if (tls_ == nullptr) {
    LOG(INFO) << "received SIGHUP: reload requested; nothing to reload (TLS is off)";
    return;
  }
  absl::Status reloaded = tls_->Reload();
  if (reloaded.ok()) {
    LOG(INFO) << "received SIGHUP: TLS certificate and key reloaded from " << options_.tls_cert
              << " and " << options_.tls_key << "; new handshakes use them";
  } else {
    LOG(WARNING) << "received SIGHUP: TLS reload failed, keeping the previous certificate and "
                 << "key: " << reloaded.message();
  }
}

absl::Status Server::StartThreads(common::UniqueFd listener, long fd_limit) {
  if (!stop_accepting_.valid()) return absl::ResourceExhaustedError("no eventfd for the acceptor");
  closer_ = std::make_unique<LingeringCloser>(kLinger, MaxLingeringSockets(fd_limit));
  absl::Status s = closer_->Start();
  if (!s.ok()) return s;

  WorkerPool::Deps deps{&queue_, &session_config_, &stats_, closer_.get()};
  if (tls_ != nullptr) {
    deps.make_transport = [tls = tls_.get()](common::UniqueFd socket) {
      return MakeTlsTransport(*tls, std::move(socket));
    };
  }
  if (options_.model == Model::kEvent) {
    pool_ = std::make_unique<EventPool>(workers_, deps, io_);
  } else {
    pool_ = std::make_unique<ClassicPool>(workers_, deps);
  }
  s = pool_->Start();
  if (!s.ok()) return s;

  acceptor_ = std::make_unique<Acceptor>(std::move(listener),
                                         MakeAcceptorLimits(options_, max_connections_), &queue_,
                                         pool_.get(), closer_.get(), &stats_);
  auto acceptor = common::StartThread("acceptor", [this] { acceptor_->Run(stop_accepting_); });
  if (!acceptor.ok()) return acceptor.status();
  acceptor_thread_ = std::move(*acceptor);
  auto stats = common::StartThread("stats", [this] { StatsLoop(); });
  if (!stats.ok()) return stats.status();
  stats_thread_ = std::move(*stats);
  return absl::OkStatus();
}

absl::Status Server::StartMetrics() {
  MetricsEndpoint::Options o;
  o.host = options_.metrics_host;
  o.port = options_.metrics_port;
  o.healthy = [this] { return healthy(); };
  o.ready = [this] { return ready(); };
  auto endpoint = MetricsEndpoint::Start(std::move(o));
  if (!endpoint.ok()) {
    return absl::Status(endpoint.status().code(),
                        absl::StrCat("--metrics_port: ", endpoint.status().message()));
  }
  metrics_ = std::move(*endpoint);
  metrics_->RegisterCollectable(std::make_shared<ProcessMetrics>());
  metrics_->RegisterCollectable(
      std::make_shared<ServerMetrics>([this] { return stats(); }, max_connections_));
  if (tls_ != nullptr) {
    metrics_->RegisterCollectable(
        std::make_shared<TlsMetrics>([tls = tls_.get()] { return tls->Snapshot(); }));
  }
  if (!options_.metrics_port_file.empty()) {
    absl::Status written = common::WritePortFile(options_.metrics_port_file, metrics_->port(),
                                                 &metrics_port_file_inode_);
    if (!written.ok()) {
      return absl::Status(written.code(),
                          absl::StrCat("--metrics_port_file: ", written.message()));
    }
  }
  return absl::OkStatus();
}

bool Server::healthy() const {
  if (!running_) return false;
  const int64_t now = absl::ToUnixNanos(absl::Now());
  for (const WorkerSnapshot& w : stats().workers) {
    if (w.turn_started_ns != 0 && absl::Nanoseconds(now - w.turn_started_ns) > kWedged) {
      return false;
    }
  }
  return true;
}

void Server::Shutdown() {
  if (!running_) return;
  // Not ready from now on; a load balancer watching /readyz (or a proxy's
  // health check, see Session) stops sending clients while the listener is
  // still open.
  ready_.store(false, std::memory_order_release);
  draining_.store(true, std::memory_order_release);
  if (options_.drain_delay_ms > 0) {
    LOG(INFO) << "draining: not ready, still serving for " << options_.drain_delay_ms << " ms";
    absl::SleepFor(absl::Milliseconds(options_.drain_delay_ms));
  }
  LOG(INFO) << "shutting down: grace period " << options_.shutdown_grace_ms << " ms";
  Stop();
  running_ = false;
  LOG(INFO) << "stats: final " << StatsLine();
}

void Server::Stop() {
  const absl::Time grace_deadline = absl::Now() + absl::Milliseconds(options_.shutdown_grace_ms);

  // 1. No new clients: the acceptor exits and closes the listener.
  stop_accepting_.Notify();
  queue_.Close();  // also releases an acceptor waiting for space (block policy)
  if (acceptor_thread_.joinable()) acceptor_thread_.join();

  // 2. Clients still waiting for a worker are told goodbye, not served.
  //    (Dropping each Connection gives its place in the count back.)
  for (Connection& waiting : queue_.TakeAll()) {
    closer_->Close(std::move(waiting.socket),
                   ClosingLine(options_.framing, common::kShutdownLine, stats_));
  }

  // 3. Running sessions finish what they received, say goodbye, close.
  if (pool_) pool_->Shutdown(grace_deadline);

  // 4. Let goodbyes drain until the grace period ends (at least briefly),
  //    then close whatever still lingers.
  if (closer_) closer_->Stop(std::max(grace_deadline, absl::Now() + absl::Milliseconds(100)));
  stopped_.Notify();
  if (stats_thread_.joinable()) stats_thread_.join();
  metrics_.reset();
  // Nothing serves any more: the port files would only mislead a script.
  common::RemovePortFile(options_.port_file, port_file_inode_);
  common::RemovePortFile(options_.metrics_port_file, metrics_port_file_inode_);
}

StatsSnapshot Server::stats() const {
  StatsSnapshot s =
      stats_.Snapshot(pool_ ? pool_->counters() : std::vector<const WorkerCounters*>{});
  s.queued_now = static_cast<int64_t>(queue_.size());
  s.queued_peak = static_cast<int64_t>(queue_.peak_size());
  s.show_workers = options_.model == Model::kEvent;
  return s;
}

std::string Server::StatsLine() {
  const StatsSnapshot now = stats();
  const absl::Time at = absl::Now();
  absl::MutexLock lock(&stats_line_mu_);
  std::string line = now.ToString(last_line_, at - last_line_at_);
  last_line_ = now;
  last_line_at_ = at;
  return line;
}

void Server::StatsLoop() {
  if (options_.stats_interval_ms <= 0) {
    stopped_.WaitForNotification();
    return;
  }
  const absl::Duration interval = absl::Milliseconds(options_.stats_interval_ms);
  while (!stopped_.WaitForNotificationWithTimeout(interval)) {
    LOG(INFO) << "stats: " << StatsLine();
  }
}

}  // namespace server
