#include "server/session.h"

#include <errno.h>
#include <sys/socket.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/protocol.h"
#include "common/socket.h"
#include "glog/logging.h"

namespace server {
namespace {

// Reads per Resume() before yielding, so one chatty client cannot monopolize
// a worker that serves several sessions (parked mode).
constexpr int kMaxReadsPerResume = 16;
// At shutdown, at most this much already-received input is still answered.
constexpr size_t kShutdownReadBudget = 256 * 1024;
// Output buffers larger than this are freed once drained.
constexpr size_t kKeepOutputCapacity = 4096;

}  // namespace

SessionConfig SessionConfig::FromOptions(const ServerOptions& options) {
  SessionConfig c;
  c.framing = options.framing;
  if (options.framing == Framing::kLine) {
    c.welcome_line = absl::StrCat(options.welcome, common::kLineEnd);
  }
  c.reply_prefix = options.reply_prefix;
  c.max_line_bytes = static_cast<size_t>(options.max_line_bytes);
  c.idle_timeout = options.idle_timeout_ms > 0 ? absl::Milliseconds(options.idle_timeout_ms)
                                               : absl::InfiniteDuration();
  c.write_timeout = absl::Milliseconds(options.write_timeout_ms);
  return c;
}

Session::Session(common::UniqueFd socket, const SessionConfig* config, Stats* stats,
                 absl::Time now)
    : socket_(std::move(socket)),
      config_(config),
      stats_(stats),
      peer_(VLOG_IS_ON(1) ? common::PeerName(socket_) : std::string()),
      framer_(config->max_line_bytes),
      idle_deadline_(now + config->idle_timeout) {
  QueueOutput(now, config_->welcome_line);
}

bool Session::idle() const {
  return out_pos_ == out_.size() && framer_.pending_bytes() == 0;
}

absl::Time Session::WriteDeadline() const {
  return std::min(write_deadline_, closing_deadline_);
}

void Session::QueueOutput(absl::Time now, absl::string_view bytes) {
  if (bytes.empty()) return;
  if (out_pos_ == out_.size()) write_deadline_ = now + config_->write_timeout;
  out_.append(bytes.data(), bytes.size());
}

void Session::QueueClosingLine(absl::Time now, absl::string_view line) {
  // Raw framing is a pure echo: the server closes without adding text.
  if (config_->framing == Framing::kLine) QueueOutput(now, line);
  state_ = State::kClosing;
}

void Session::Finish(bool gracefully) {
  state_ = State::kDone;
  close_gracefully_ = gracefully;
  out_.clear();
  out_pos_ = 0;
}

Session::FlushResult Session::Flush(absl::Time now) {
  while (out_pos_ < out_.size()) {
    ssize_t n = ::send(socket_.get(), out_.data() + out_pos_, out_.size() - out_pos_,
                       MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      out_pos_ += static_cast<size_t>(n);
      write_deadline_ = now + config_->write_timeout;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return FlushResult::kBlocked;
    VLOG(1) << peer_ << ": send failed: " << strerror(errno);
    return FlushResult::kFailed;
  }
  out_.clear();
  out_pos_ = 0;
  if (out_.capacity() > kKeepOutputCapacity) std::string().swap(out_);
  return FlushResult::kDrained;
}

void Session::OnData(absl::Time now, const char* data, size_t size) {
  if (config_->framing == Framing::kRaw) {
    QueueOutput(now, absl::string_view(data, size));
    Stats::Add(stats_->bytes_echoed, static_cast<int64_t>(size));
    idle_deadline_ = now + config_->idle_timeout;
    return;
  }
  int64_t lines = 0;
  int64_t bytes = 0;
  const bool ok = framer_.Feed(absl::string_view(data, size), [&](absl::string_view line) {
    QueueOutput(now, config_->reply_prefix);
    QueueOutput(now, line);
    ++lines;
    bytes += static_cast<int64_t>(line.size());
  });
  if (lines > 0) {
    Stats::Add(stats_->lines_echoed, lines);
    Stats::Add(stats_->bytes_echoed, bytes);
    idle_deadline_ = now + config_->idle_timeout;
  }
  if (!ok) {
    VLOG(1) << peer_ << ": line longer than " << config_->max_line_bytes << " bytes";
    Stats::Add(stats_->errors);
    QueueClosingLine(now, common::kLineTooLongLine);
  }
}

Session::Wait Session::Resume(absl::Time now, absl::Span<char> scratch) {
  int reads = 0;
  // A read that did not fill the buffer almost always emptied the socket;
  // skipping the recv() that would just say EAGAIN saves a system call per
  // round trip. The caller's poll/epoll reports anything that arrived since.
  bool socket_drained = false;
  for (;;) {
    if (state_ == State::kDone) return {Interest::kDone, absl::InfiniteFuture()};

    if (out_pos_ < out_.size()) {
      switch (Flush(now)) {
        case FlushResult::kFailed:
          Stats::Add(stats_->errors);
          Finish(/*gracefully=*/false);
          continue;
        case FlushResult::kBlocked:
          if (now >= WriteDeadline()) {
            VLOG(1) << peer_ << ": write timed out";
            Stats::Add(stats_->errors);
            Finish(/*gracefully=*/false);
            continue;
          }
          return {Interest::kWrite, WriteDeadline()};
        case FlushResult::kDrained:
          break;
      }
    }

    // Everything queued so far has been sent.
    if (state_ == State::kClosing) {
      Finish(/*gracefully=*/true);
      continue;
    }
    if (peer_eof_) {
      // Partial line data at EOF is discarded: the client never finished it.
      VLOG(1) << peer_ << ": client closed";
      Finish(/*gracefully=*/false);
      continue;
    }
    if (reads >= kMaxReadsPerResume) return {Interest::kRead, now};
    if (socket_drained) {
      framer_.ReleaseMemoryIfEmpty();
      return {Interest::kRead, idle_deadline_};
    }

    ssize_t n = ::recv(socket_.get(), scratch.data(), scratch.size(), MSG_DONTWAIT);
    ++reads;
    if (n > 0) {
      OnData(now, scratch.data(), static_cast<size_t>(n));
      socket_drained = static_cast<size_t>(n) < scratch.size();
      continue;
    }
    if (n == 0) {
      peer_eof_ = true;
      continue;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      if (now >= idle_deadline_) {
        VLOG(1) << peer_ << ": idle timeout";
        Stats::Add(stats_->idle_timeouts);
        QueueClosingLine(now, common::kIdleTimeoutLine);
        continue;
      }
      framer_.ReleaseMemoryIfEmpty();
      return {Interest::kRead, idle_deadline_};
    }
    VLOG(1) << peer_ << ": recv failed: " << strerror(errno);
    Stats::Add(stats_->errors);
    Finish(/*gracefully=*/false);
  }
}

void Session::BeginShutdown(absl::Time grace_deadline, absl::Span<char> scratch) {
  closing_deadline_ = std::min(closing_deadline_, grace_deadline);
  if (shutting_down_) return;
  shutting_down_ = true;
  if (state_ != State::kOpen) return;
  const absl::Time now = absl::Now();
  // Answer what the client had already sent before we stopped.
  size_t budget = kShutdownReadBudget;
  while (budget > 0 && !peer_eof_ && state_ == State::kOpen) {
    ssize_t n = ::recv(socket_.get(), scratch.data(), std::min(scratch.size(), budget),
                       MSG_DONTWAIT);
    if (n > 0) {
      OnData(now, scratch.data(), static_cast<size_t>(n));
      budget -= static_cast<size_t>(n);
    } else if (n == 0) {
      peer_eof_ = true;
    } else if (errno != EINTR) {
      break;
    }
  }
  if (state_ == State::kOpen) {
    Stats::Add(stats_->shutdown_goodbyes);
    QueueClosingLine(now, common::kShutdownLine);
  }
}

}  // namespace server
