#include "server/http/http_server.h"

#include <errno.h>
#include <sys/socket.h>

#include <algorithm>
#include <utility>

#include "absl/memory/memory.h"
#include "absl/strings/str_cat.h"
#include "common/poller.h"
#include "common/socket.h"
#include "common/thread_starter.h"
#include "common/verbose_log.h"
#include "glog/logging.h"
#include "server/http/http_request_parser.h"

namespace server {
namespace {

constexpr uint64_t kListenerToken = 1;
// Connections accepted per turn at most (the listener is level-triggered:
// the rest wait for the next turn, after the connections already held).
constexpr int kAcceptsPerTurn = 64;
// Out of descriptors with nothing to evict: wait this long before accepting
// again, instead of spinning on a listener that stays readable.
constexpr absl::Duration kAcceptPause = absl::Milliseconds(100);
// After the last response on a connection: how long, and how much input at
// most, to read and discard before closing, so the response is not lost to a
// reset caused by unread input.
constexpr absl::Duration kLinger = absl::Seconds(2);
constexpr size_t kLingerBudget = 64 * 1024;

const char* Reason(int status) {
  switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 431: return "Request Header Fields Too Large";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Error";
  }
}

HttpResponse ErrorResponse(int status) {
  HttpResponse response;
  response.status = status;
  response.body = absl::StrCat(Reason(status), "\n");
  return response;
}

}  // namespace

struct HttpServer::Connection {
  common::UniqueFd socket;
  std::string input;
  size_t resume_at = 0;  // the parser's hint for `input`
  std::string output;
  size_t output_sent = 0;
  // Edge-triggered readiness not yet used up.
  bool can_read = false;
  bool can_write = false;
  bool peer_closed = false;         // read EOF
  bool close_after_output = false;  // no more requests; close once sent
  bool lingering = false;           // sent and half-closed; discarding input
  size_t linger_budget = kLingerBudget;
  bool resume = false;              // out of its turn's budget: run again soon
  absl::Time waiting_since;         // started waiting for a request
  absl::Time last_write_progress;   // while output is pending
  absl::Time linger_until;
  common::DeadlineIndex::Entry timer;

  size_t pending() const { return output.size() - output_sent; }
  absl::Time timeout(const Options& options) const {
    if (lingering) return linger_until;
    if (pending() > 0) return last_write_progress + options.write_timeout;
    return waiting_since + options.header_timeout;
  }
};

HttpServer::HttpServer(Options options) : options_(std::move(options)) {}

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(Options options) {
  // A head must be able to reach the limit before input stops being read.
  CHECK_LT(options.max_head_bytes, kInputCap) << "max_head_bytes must be below kInputCap";
  const std::string where = absl::StrCat(options.host, " port ", options.port);
  auto server = absl::WrapUnique(new HttpServer(std::move(options)));
  absl::StatusOr<common::UniqueFd> listener =
      common::Listen(server->options_.host, server->options_.port, /*backlog=*/1024);
  if (!listener.ok()) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", where, ": ", listener.status().message()));
  }
  server->listener_ = std::move(*listener);
  absl::Status nonblocking = common::SetNonBlocking(server->listener_);
  if (!nonblocking.ok()) return nonblocking;
  absl::StatusOr<int> port = common::BoundPort(server->listener_);
  if (!port.ok()) return port.status();
  server->port_ = *port;
  absl::StatusOr<std::unique_ptr<common::EventLoop>> loop = common::EventLoop::Create();
  if (!loop.ok()) return absl::ResourceExhaustedError(loop.status().message());
  server->loop_ = std::move(*loop);
  absl::Status watched = server->loop_->Watch(server->listener_.get(), kListenerToken,
                                              common::kReadable, common::Trigger::kLevel);
  if (!watched.ok()) return absl::ResourceExhaustedError(watched.message());
  HttpServer* raw = server.get();
  absl::StatusOr<std::thread> thread =
      common::StartThread("metrics", [raw] { raw->loop_->Run(*raw); });
  if (!thread.ok()) return thread.status();
  server->thread_ = std::move(*thread);
  return server;
}

HttpServer::~HttpServer() {
  stop_.store(true, std::memory_order_release);
  if (loop_ != nullptr) loop_->Wake();
  if (thread_.joinable()) thread_.join();
  connections_.clear();
}

void HttpServer::OnWake(absl::Time /*now*/) {
  if (stop_.load(std::memory_order_acquire)) loop_->Quit();
}

void HttpServer::OnReady(uint64_t token, uint32_t readiness, absl::Time now) {
  if (token == kListenerToken) {
    AcceptAll(now);
    return;
  }
  auto it = connections_.find(token);
  if (it == connections_.end()) return;
  Connection& c = *it->second;
  if (readiness & (common::kReadable | common::kHangup | common::kUrgent)) c.can_read = true;
  if (readiness & (common::kWritable | common::kHangup)) c.can_write = true;
  Drive(token, now);
}

void HttpServer::OnDue(uint64_t token, absl::Time now) {
  if (token == kListenerToken) {
    if (listener_paused_ && loop_->Watch(listener_.get(), kListenerToken, common::kReadable,
                                         common::Trigger::kLevel)
                                .ok()) {
      listener_paused_ = false;
    } else if (listener_paused_) {
      loop_->SetDeadline(kListenerToken, listener_timer_, now + kAcceptPause);
    }
    return;
  }
  auto it = connections_.find(token);
  if (it == connections_.end()) return;
  Connection& c = *it->second;
  if (c.resume) {
    c.resume = false;
    Drive(token, now);
    return;
  }
  if (now >= c.timeout(options_)) {
    if (!c.lingering && c.pending() > 0) {
      // The client stopped reading: reset rather than leave the kernel
      // holding the unsent rest for it.
      const linger abort{1, 0};
      ::setsockopt(c.socket.get(), SOL_SOCKET, SO_LINGER, &abort, sizeof(abort));
    }
    VERBOSE(1) << "metrics endpoint: closing " << common::PeerName(c.socket) << " after "
               << (c.lingering ? "lingering" : c.pending() > 0 ? "write timeout" : "header timeout");
    Close(token);
  } else {
    loop_->SetDeadline(token, c.timer, c.timeout(options_));
  }
}

common::DeadlineIndex::Entry& HttpServer::TimerEntry(uint64_t token) {
  if (token == kListenerToken) return listener_timer_;
  return connections_.at(token)->timer;
}

bool HttpServer::EvictOldestIdle() {
  for (auto& [token, connection] : connections_) {
    if (connection->pending() == 0) {
      Close(token);
      return true;
    }
  }
  return false;
}

void HttpServer::AcceptAll(absl::Time now) {
  for (int i = 0; i < kAcceptsPerTurn; ++i) {
    const int fd = ::accept4(listener_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        if (EvictOldestIdle()) continue;
        VERBOSE(1) << "metrics endpoint: out of descriptors, pausing accepts";
        if (loop_->Unwatch(listener_.get()).ok()) {
          listener_paused_ = true;
          loop_->SetDeadline(kListenerToken, listener_timer_, now + kAcceptPause);
        }
      }
      return;  // EAGAIN: accepted everything
    }
    common::UniqueFd socket(fd);
    if (connections_.size() >= options_.max_connections && !EvictOldestIdle()) {
      continue;  // every held connection is mid-response: this one closes
    }
    const uint64_t token = next_token_++;
    if (!loop_->Watch(socket.get(), token, common::kReadable | common::kWritable,
                      common::Trigger::kEdge)
             .ok()) {
      continue;  // cannot poll it: closes now
    }
    auto connection = std::make_unique<Connection>();
    connection->socket = std::move(socket);
    connection->waiting_since = now;
    Connection& c = *connection;
    connections_.emplace(token, std::move(connection));
    loop_->SetDeadline(token, c.timer, c.timeout(options_));
  }
}

void HttpServer::Drive(uint64_t token, absl::Time now) {
  Connection& c = *connections_.at(token);
  int budget = kRequestsPerTurn;
  for (bool progress = true; progress;) {
    progress = false;
    // Write what is pending.
    while (c.pending() > 0 && c.can_write) {
      const ssize_t n = ::send(c.socket.get(), c.output.data() + c.output_sent, c.pending(),
                               MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) {
        c.output_sent += static_cast<size_t>(n);
        c.last_write_progress = now;
        progress = true;
      } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        c.can_write = false;
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else {
        Close(token);  // reset by the peer, or a broken pipe
        return;
      }
    }
    if (c.pending() == 0 && !c.output.empty()) {
      // Released, not just cleared: an idle keep-alive connection holds no
      // buffer (a scrape's may be large).
      std::string().swap(c.output);
      c.output_sent = 0;
      c.waiting_since = now;
    }
    if (c.pending() == 0 && c.close_after_output && !c.lingering) {
      if (c.peer_closed) {
        Close(token);  // both sides done: no input can arrive to cause a reset
        return;
      }
      ::shutdown(c.socket.get(), SHUT_WR);  // our FIN after the last response
      c.lingering = true;
      c.linger_until = now + kLinger;
      c.input.clear();
    }
    if (c.lingering) {
      if (c.can_read) {
        if (common::DiscardPendingInput(c.socket, c.linger_budget)) {
          Close(token);
          return;
        }
        c.can_read = false;
      }
      break;
    }
    // Answer what has arrived, as long as the responses can be held.
    if (!c.close_after_output && budget > 0 && c.pending() < kOutputCap) {
      const int before = budget;
      AnswerRequests(c, budget);
      if (budget != before || c.close_after_output) progress = true;
    }
    // Read more, unless there is enough unanswered input already.
    if (!c.close_after_output && !c.peer_closed && c.can_read && c.input.size() < kInputCap) {
      char buffer[kInputCap];
      const size_t room = kInputCap - c.input.size();
      const ssize_t n = ::recv(c.socket.get(), buffer, room, 0);
      if (n > 0) {
        c.input.append(buffer, static_cast<size_t>(n));
        progress = true;
      } else if (n == 0) {
        c.peer_closed = true;
        progress = true;
      } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
        c.can_read = false;
      } else if (errno != EINTR) {
        Close(token);
        return;
      }
    }
  }
  if (c.peer_closed && !c.lingering && c.pending() == 0 &&
      (budget > 0 || c.close_after_output)) {
    // Everything the client sent before its FIN has been answered (a
    // partial request left over will never complete).
    Close(token);
    return;
  }
  // Out of budget with requests or output left: run again next turn.
  c.resume = budget == 0 && !c.lingering;
  loop_->SetDeadline(token, c.timer, c.resume ? now : c.timeout(options_));
}

void HttpServer::AnswerRequests(Connection& c, int& budget) {
  while (budget > 0 && c.pending() < kOutputCap && !c.close_after_output) {
    const HttpParseResult parsed = ParseHttpRequest(c.input, options_.max_head_bytes, c.resume_at);
    if (parsed.kind == HttpParseResult::Kind::kNeedMore) {
      c.resume_at = parsed.consumed;
      return;
    }
    --budget;
    if (parsed.kind == HttpParseResult::Kind::kError) {
      Respond(c, /*head_only=*/false, /*keep_alive=*/false, ErrorResponse(parsed.error_status));
      c.close_after_output = true;
      return;
    }
    const HttpRequest& request = parsed.request;
    c.input.erase(0, parsed.consumed);
    c.resume_at = 0;
    const bool head_only = request.method == "HEAD";
    if (request.method != "GET" && !head_only) {
      HttpResponse response = ErrorResponse(405);
      response.headers.push_back("Allow: GET, HEAD");
      Respond(c, false, request.keep_alive, response);
    } else if (auto route = options_.routes.find(request.path); route != options_.routes.end()) {
      Respond(c, head_only, request.keep_alive, route->second());
    } else {
      Respond(c, head_only, request.keep_alive, ErrorResponse(404));
    }
    if (!request.keep_alive) c.close_after_output = true;
  }
}

void HttpServer::Respond(Connection& c, bool head_only, bool keep_alive,
                         const HttpResponse& response) {
  if (c.pending() == 0) c.last_write_progress = absl::Now();
  absl::StrAppend(&c.output, "HTTP/1.1 ", response.status, " ", Reason(response.status),
                  "\r\nContent-Type: ", response.content_type,
                  "\r\nContent-Length: ", response.body.size(), "\r\n");
  for (const std::string& header : response.headers) absl::StrAppend(&c.output, header, "\r\n");
  if (!keep_alive) c.output.append("Connection: close\r\n");
  c.output.append("\r\n");
  if (!head_only) c.output.append(response.body);
}

void HttpServer::Close(uint64_t token) {
  auto it = connections_.find(token);
  if (it == connections_.end()) return;
  loop_->ClearDeadline(token, it->second->timer);
  connections_.erase(it);  // closes; a closed descriptor leaves the poller
}

}  // namespace server
