#include "server/session.h"

#include <errno.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/protocol.h"
#include "common/verbose_log.h"
#include "glog/logging.h"

namespace server {
namespace {

// Reads per Resume() before yielding, so one chatty client cannot monopolize
// a worker that serves many sessions.
constexpr int kMaxReadsPerResume = 16;
// The worker's input buffer (raw framing reads up to this much at once).
constexpr size_t kInputBytes = 64 * 1024;

constexpr size_t LongestClosingLine() {
  return std::max({common::kBusyLine.size(), common::kShutdownLine.size(),
                   common::kIdleTimeoutLine.size(), common::kLineTooLongLine.size()});
}

}  // namespace

SessionConfig SessionConfig::FromOptions(const ServerOptions& options) {
  SessionConfig c;
  c.framing = options.framing;
  if (options.framing == Framing::kLine) {
    c.welcome_line = absl::StrCat(options.welcome, common::kLineEnd);
  }
  c.reply_prefix = options.reply_prefix;
  c.max_line_bytes = static_cast<size_t>(options.max_line_bytes);
  c.max_output_bytes = static_cast<size_t>(options.max_output_bytes);
  c.idle_timeout = options.idle_timeout_ms > 0 ? absl::Milliseconds(options.idle_timeout_ms)
                                               : absl::InfiniteDuration();
  c.write_timeout = absl::Milliseconds(options.write_timeout_ms);
  switch (options.proxy_protocol) {
    case ProxyProtocol::kOff:
      break;
    case ProxyProtocol::kV1:
      c.proxy_protocol = common::ProxyVersions::kV1;
      break;
    case ProxyProtocol::kV2:
      c.proxy_protocol = common::ProxyVersions::kV2;
      break;
    case ProxyProtocol::kAny:
      c.proxy_protocol = common::ProxyVersions::kAny;
      break;
  }
  c.proxy_header_timeout = absl::Milliseconds(options.proxy_header_timeout_ms);
  return c;
}

WorkerContext::WorkerContext(const SessionConfig& config, WorkerCounters* counters)
    : input_(kInputBytes), counters_(counters) {
  staged_.reserve(config.max_output_bytes + LongestClosingLine());
}

Session::Session(common::UniqueFd socket, const SessionConfig* config, Stats* stats,
                 absl::Time now, std::string peer)
    : socket_(std::move(socket)),
      config_(config),
      stats_(stats),
      peer_(std::move(peer)),
      started_(now),
      framer_(config->max_line_bytes),
      idle_deadline_(now + config->idle_timeout) {
  if (config_->proxy_protocol.has_value()) {
    common::ProxyHeaderOptions options;
    options.versions = *config_->proxy_protocol;
    proxy_ = std::make_unique<common::ProxyHeaderParser>(options);
    state_ = State::kProxyHeader;
    proxy_deadline_ = now + config_->proxy_header_timeout;
    return;  // the welcome waits for the header
  }
  if (!config_->welcome_line.empty()) {
    out_ = config_->welcome_line;
    write_deadline_ = now + config_->write_timeout;
  }
}

bool Session::ReadProxyHeader(absl::Time now, WorkerContext& context) {
  char* buf = context.input_.data();
  while (proxy_->state() == common::ProxyHeaderParser::State::kNeedMore) {
    // Peek, then consume only the header's bytes: the client's first bytes
    // may be in the same segment and belong to the session.
    const ssize_t n = ::recv(socket_.get(), buf, context.input_.size(), MSG_PEEK | MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (shutting_down_) {
        // No welcome yet; the shutdown line tells the client (through its
        // proxy) to come back, unlike a silent close.
        if (config_->framing == Framing::kLine) Stats::Add(stats_->shutdown_goodbyes);
        QueueClosingLine(now, common::kShutdownLine, context.staged_);
        Emit(now, context.staged_);
        return true;
      }
      if (now < proxy_deadline_) return false;
      VERBOSE(1) << peer_ << ": no PROXY header within the timeout";
      stats_->Reject(RejectReason::kProxyTimeout);
      Finish(/*gracefully=*/false);
      return true;
    }
    if (n <= 0) {
      proxy_->OnEndOfStream();
      break;
    }
    const size_t used = proxy_->Feed(absl::string_view(buf, static_cast<size_t>(n)));
    // Already queued, so this takes exactly `used` bytes.
    (void)!::recv(socket_.get(), buf, used, MSG_DONTWAIT);
  }
  if (proxy_->state() == common::ProxyHeaderParser::State::kError) {
    VERBOSE(1) << peer_ << ": refused: " << proxy_->status().message();
    const common::ProxyHeaderError error = proxy_->error();
    stats_->Reject(error == common::ProxyHeaderError::kNotProxyProtocol ||
                           error == common::ProxyHeaderError::kTruncated
                       ? RejectReason::kProxyMissing
                       : RejectReason::kProxyMalformed);
    proxy_.reset();
    Finish(/*gracefully=*/false);
    return true;
  }
  OnProxyHeader(now, context.staged_);
  return true;
}

void Session::OnProxyHeader(absl::Time now, std::string& staged) {
  const common::ProxyHeader& header = proxy_->header();
  const bool local = header.kind == common::ProxyHeaderKind::kLocal;
  if (header.kind == common::ProxyHeaderKind::kProxy && !peer_.empty()) {
    peer_ = absl::StrCat(header.SourceName(), " (via ", peer_, ")");
  }
  proxy_.reset();
  state_ = State::kOpen;
  idle_deadline_ = now + config_->idle_timeout;
  if (local && config_->draining != nullptr &&
      config_->draining->load(std::memory_order_acquire)) {
    VERBOSE(1) << peer_ << ": the proxy's own connection while draining: shutdown line";
    QueueClosingLine(now, common::kShutdownLine, staged);
  } else {
    Queue(config_->welcome_line, staged);
  }
  Emit(now, staged);
}

bool Session::idle() const {
  return out_pos_ == out_.size() && framer_.pending_bytes() == 0;
}

size_t Session::heap_bytes() const {
  const size_t out = out_.capacity() > std::string().capacity() ? out_.capacity() : 0;
  return out + framer_.buffer_capacity();
}

absl::Time Session::WriteDeadline() const {
  return std::min(write_deadline_, closing_deadline_);
}

size_t Session::ReadBudget(const WorkerContext& context) const {
  const size_t cap = config_->max_output_bytes;
  size_t budget;
  if (config_->framing == Framing::kRaw) {
    budget = cap;
  } else {
    // Worst case: the pending partial line completes (prefix + itself), every
    // other byte is an empty line (prefix + "\n"), and a closing line follows.
    const size_t prefix = config_->reply_prefix.size();
    const size_t reserved = framer_.pending_bytes() + prefix + LongestClosingLine();
    budget = cap > reserved ? (cap - reserved) / (prefix + 1) : 0;
  }
  return std::clamp<size_t>(budget, 1, context.input_.size());
}

void Session::Queue(absl::string_view bytes, std::string& staged) {
  if (out_pos_ == out_.size()) {
    staged.append(bytes.data(), bytes.size());
  } else {
    out_.append(bytes.data(), bytes.size());
  }
}

void Session::Emit(absl::Time now, std::string& staged) {
  if (staged.empty()) return;
  size_t sent = 0;
  if (out_pos_ == out_.size()) {
    while (sent < staged.size()) {
      const ssize_t n = ::send(socket_.get(), staged.data() + sent, staged.size() - sent,
                               MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) {
        sent += static_cast<size_t>(n);
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else {
        break;  // would block, or an error that Flush() will meet again
      }
    }
    if (sent == staged.size()) {
      staged.clear();
      return;
    }
    out_.clear();
    out_pos_ = 0;
    write_deadline_ = now + config_->write_timeout;
  }
  out_.append(staged, sent, std::string::npos);
  staged.clear();
}

void Session::QueueClosingLine(absl::Time now, absl::string_view line, std::string& staged) {
  // Raw framing is a pure echo: the server closes without adding text.
  if (config_->framing == Framing::kLine) Queue(line, staged);
  state_ = State::kClosing;
  closing_deadline_ = std::min(closing_deadline_, now + config_->write_timeout);
}

void Session::Finish(bool gracefully) {
  state_ = State::kDone;
  close_gracefully_ = gracefully;
  std::string().swap(out_);
  out_pos_ = 0;
}

void Session::Fail(ErrorKind kind, bool gracefully) {
  stats_->Error(kind);
  Finish(gracefully);
}

Session::FlushResult Session::Flush(absl::Time now) {
  while (out_pos_ < out_.size()) {
    const ssize_t n = ::send(socket_.get(), out_.data() + out_pos_, out_.size() - out_pos_,
                             MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      out_pos_ += static_cast<size_t>(n);
      write_deadline_ = now + config_->write_timeout;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return FlushResult::kBlocked;
    VERBOSE(1) << peer_ << ": send failed: " << std::strerror(errno);
    return FlushResult::kFailed;
  }
  // Only a slow client ever leaves output here: give the memory back.
  std::string().swap(out_);
  out_pos_ = 0;
  write_deadline_ = absl::InfiniteFuture();
  return FlushResult::kDrained;
}

void Session::OnData(absl::Time now, const char* data, size_t size, WorkerContext& context) {
  std::string& staged = context.staged_;
  WorkerCounters& counters = context.counters();
  if (config_->framing == Framing::kRaw) {
    Queue(absl::string_view(data, size), staged);
    AddOwned(counters.bytes, static_cast<int64_t>(size));
    if (!backlogged_) idle_deadline_ = now + config_->idle_timeout;
    return;
  }
  int64_t lines = 0;
  int64_t bytes = 0;
  const bool ok = framer_.Feed(absl::string_view(data, size), [&](absl::string_view line) {
    Queue(config_->reply_prefix, staged);
    Queue(line, staged);
    ++lines;
    bytes += static_cast<int64_t>(line.size());
  });
  if (lines > 0) {
    AddOwned(counters.lines, lines);
    AddOwned(counters.bytes, bytes);
    if (!backlogged_) idle_deadline_ = now + config_->idle_timeout;
  }
  if (!ok) {
    VERBOSE(1) << peer_ << ": line longer than " << config_->max_line_bytes << " bytes";
    stats_->Error(ErrorKind::kLineTooLong);
    QueueClosingLine(now, common::kLineTooLongLine, staged);
  }
}

Session::Wait Session::Resume(absl::Time now, WorkerContext& context) {
  std::string& staged = context.staged_;
  staged.clear();
  int reads = 0;
  // On TCP a read that did not fill its budget emptied the receive queue
  // (tcp_recvmsg stops short only then); skipping the recv() that would just
  // say EAGAIN saves a system call per round trip. Anything that arrives
  // after it raises a new readiness event for the driver's poll/epoll.
  bool socket_drained = false;
  for (;;) {
    if (state_ == State::kDone) return {Interest::kDone, absl::InfiniteFuture()};
    if (state_ == State::kProxyHeader) {
      if (!ReadProxyHeader(now, context)) return {Interest::kRead, proxy_deadline_};
      continue;
    }

    if (out_pos_ < out_.size()) {
      switch (Flush(now)) {
        case FlushResult::kFailed:
          Fail(ErrorKind::kConnectionReset);
          continue;
        case FlushResult::kBlocked:
          backlogged_ = true;
          if (now >= WriteDeadline()) {
            VERBOSE(1) << peer_ << ": write timed out with " << pending_output()
                       << " bytes pending";
            Fail(ErrorKind::kWriteTimeout);
            continue;
          }
          if (state_ == State::kOpen && now >= idle_deadline_) {
            VERBOSE(1) << peer_ << ": replies waited for the client to read longer than the idle "
                       << "timeout (" << pending_output() << " bytes pending); closing";
            stats_->Error(ErrorKind::kSlowReader);
            QueueClosingLine(now, common::kIdleTimeoutLine, staged);
            continue;
          }
          return {Interest::kWrite, state_ == State::kOpen
                                        ? std::min(WriteDeadline(), idle_deadline_)
                                        : WriteDeadline()};
        case FlushResult::kDrained:
          break;
      }
    }

    // Everything queued so far has been sent.
    if (state_ == State::kClosing) {
      Finish(/*gracefully=*/true);
      continue;
    }
    if (shutting_down_ && (final_read_done_ || peer_eof_)) {
      if (config_->framing == Framing::kLine) Stats::Add(stats_->shutdown_goodbyes);
      QueueClosingLine(now, common::kShutdownLine, staged);
      Emit(now, staged);
      continue;
    }
    if (peer_eof_) {
      // Partial line data at EOF is discarded: the client never finished it.
      VERBOSE(1) << peer_ << ": client closed";
      Finish(/*gracefully=*/false);
      continue;
    }
    if (reads >= kMaxReadsPerResume) return {Interest::kRead, now};
    if (socket_drained) {
      framer_.ReleaseMemoryIfEmpty();
      return {Interest::kRead, idle_deadline_};
    }

    const size_t budget = ReadBudget(context);
    const ssize_t n = ::recv(socket_.get(), context.input_.data(), budget, MSG_DONTWAIT);
    ++reads;
    if (n > 0) {
      if (static_cast<size_t>(n) < budget) {
        socket_drained = !hangup_seen_;
        backlogged_ = false;  // caught up with the client's input
      }
      if (shutting_down_) final_read_done_ = true;
      OnData(now, context.input_.data(), static_cast<size_t>(n), context);
      Emit(now, staged);
      continue;
    }
    if (n == 0) {
      peer_eof_ = true;
      continue;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      backlogged_ = false;
      if (shutting_down_) {
        final_read_done_ = true;
        continue;
      }
      if (now >= idle_deadline_) {
        VERBOSE(1) << peer_ << ": idle timeout";
        Stats::Add(stats_->idle_timeouts);
        QueueClosingLine(now, common::kIdleTimeoutLine, staged);
        Emit(now, staged);
        continue;
      }
      framer_.ReleaseMemoryIfEmpty();
      return {Interest::kRead, idle_deadline_};
    }
    VERBOSE(1) << peer_ << ": recv failed: " << std::strerror(errno);
    Fail(ErrorKind::kConnectionReset);
  }
}

void Session::BeginShutdown(absl::Time grace_deadline) {
  closing_deadline_ = std::min(closing_deadline_, grace_deadline);
  shutting_down_ = true;
}

}  // namespace server
