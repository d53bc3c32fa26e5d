#include "server/server.h"

#include <sys/resource.h>

#include <algorithm>
#include <string>

#include "common/fd_limit.h"
#include "common/port_file.h"
#include "common/protocol.h"
#include "common/socket.h"
#include "glog/logging.h"

namespace server {
namespace {

// How long a server-closed socket may linger for the client to hang up.
constexpr absl::Duration kLinger = absl::Seconds(2);

// Sockets may linger while descriptors are scarce only up to a share of the
// descriptor limit, keeping the rest for clients being served.
size_t MaxLingering() {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) return 4096;
  return std::max<size_t>(1, rl.rlim_cur / 8);
}

}  // namespace

Server::Server(ServerOptions options)
    : options_(std::move(options)),
      session_config_(SessionConfig::FromOptions(options_)),
      queue_(static_cast<size_t>(options_.queue_capacity),
             /*pollable=*/options_.park_idle_sessions) {}

Server::~Server() { Shutdown(); }

absl::Status Server::Start() {
  CHECK(!running_) << "Start() called twice";
  // Every client costs a descriptor: take all the kernel allows.
  const long fd_limit = common::RaiseFdLimitToMax();
  auto listener = common::Listen(options_.host, options_.port, options_.listen_backlog);
  if (!listener.ok()) return listener.status();
  auto port = common::BoundPort(*listener);
  if (!port.ok()) return port.status();
  port_ = *port;

  closer_ = std::make_unique<LingeringCloser>(kLinger, MaxLingering());
  acceptor_ = std::make_unique<Acceptor>(std::move(*listener), options_.overload_policy,
                                         options_.framing, &queue_, closer_.get(), &stats_);
  pool_ = std::make_unique<WorkerPool>(options_.workers, options_.park_idle_sessions, &queue_,
                                       &session_config_, &stats_, closer_.get());
  pool_->Start();
  acceptor_thread_ = std::thread([this] { acceptor_->Run(stop_accepting_); });
  stats_thread_ = std::thread([this] { StatsLoop(); });
  running_ = true;

  // Last: the port file tells scripts the server is ready to serve.
  if (!options_.port_file.empty()) {
    absl::Status written = common::WritePortFile(options_.port_file, port_);
    if (!written.ok()) {
      Shutdown();
      return written;
    }
  }

  LOG(INFO) << "listening on " << options_.host << " port " << port_
            << " workers=" << options_.workers << " queue_capacity=" << options_.queue_capacity
            << " overload_policy=" << OverloadPolicyName(options_.overload_policy)
            << " framing=" << FramingName(options_.framing)
            << " park_idle_sessions=" << (options_.park_idle_sessions ? "true" : "false")
            << " fd_limit=" << fd_limit << " (about " << std::max(0L, fd_limit - 16)
            << " connections)";
  return absl::OkStatus();
}

void Server::Shutdown() {
  if (!running_) return;
  running_ = false;
  const absl::Time grace_deadline = absl::Now() + absl::Milliseconds(options_.shutdown_grace_ms);
  LOG(INFO) << "shutting down: grace period " << options_.shutdown_grace_ms << " ms";

  // 1. No new clients: the acceptor exits and closes the listener.
  stop_accepting_.Notify();
  queue_.Close();  // also releases an acceptor waiting for space (block policy)
  acceptor_thread_.join();

  // 2. Clients still waiting for a worker are told goodbye, not served.
  for (Connection& waiting : queue_.TakeAll()) {
    if (options_.framing == Framing::kLine) {
      Stats::Add(stats_.shutdown_goodbyes);
      closer_->Close(std::move(waiting.socket), common::kShutdownLine);
    } else {
      closer_->Close(std::move(waiting.socket));
    }
  }

  // 3. Running sessions finish what they received, say goodbye, close.
  pool_->Shutdown(grace_deadline);

  // 4. Let goodbyes drain until the grace period ends (at least briefly),
  //    then close whatever still lingers.
  closer_->Stop(std::max(grace_deadline, absl::Now() + absl::Milliseconds(100)));
  stopped_.Notify();
  stats_thread_.join();
  LOG(INFO) << "stopped: " << stats().ToString();
}

StatsSnapshot Server::stats() const {
  return stats_.Snapshot(static_cast<int64_t>(queue_.size()),
                         static_cast<int64_t>(queue_.peak_size()),
                         pool_ ? static_cast<int64_t>(pool_->parked()) : 0);
}

void Server::StatsLoop() {
  if (options_.stats_interval_ms <= 0) {
    stopped_.WaitForNotification();
    return;
  }
  const absl::Duration interval = absl::Milliseconds(options_.stats_interval_ms);
  while (!stopped_.WaitForNotificationWithTimeout(interval)) {
    LOG(INFO) << "stats: " << stats().ToString();
  }
}

}  // namespace server
