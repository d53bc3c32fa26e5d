#include "server/session/session.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/protocol.h"
#include "common/verbose_log.h"
#include "glog/logging.h"
#include "server/closing_line.h"

namespace server {
namespace {

// The worker's input buffer (raw framing reads up to this much at once).
constexpr size_t kInputBytes = 64 * 1024;

constexpr size_t LongestClosingLine() {
  return std::max({common::kBusyLine.size(), common::kShutdownLine.size(),
                   common::kIdleTimeoutLine.size(), common::kLineTooLongLine.size()});
}

}  // namespace

WorkerContext::WorkerContext(const SessionConfig& config, WorkerCounters* counters)
    : input_(new char[kInputBytes]), input_bytes_(kInputBytes), counters_(counters) {
  staged_.reserve(config.max_output_bytes + LongestClosingLine());
}

Session::Session(std::unique_ptr<Transport> transport, AdmissionTicket ticket,
                 const SessionConfig* config, Stats* stats, absl::Time now, std::string peer)
    : transport_(std::move(transport)),
      ticket_(std::move(ticket)),
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
    SetState(State::kProxyHeader);
    proxy_deadline_ = now + config_->proxy_header_timeout;
    return;  // the welcome waits for the header
  }
  VERBOSE(2) << peer_ << ": session open";
  if (!config_->welcome_line.empty()) {
    out_ = config_->welcome_line;
    write_deadline_ = now + config_->write_timeout;
  }
}

const char* Session::StateName(State state) {
  switch (state) {
    case State::kProxyHeader:
      return "proxy-header";
    case State::kOpen:
      return "open";
    case State::kClosing:
      return "closing";
    case State::kDone:
      return "done";
  }
  return "?";
}

void Session::SetState(State next) {
  VERBOSE(2) << peer_ << ": session " << StateName(state_) << " -> " << StateName(next);
  state_ = next;
}

bool Session::ReadProxyHeader(absl::Time now, WorkerContext& context) {
  char* buf = context.input_.get();
  while (proxy_->state() == common::ProxyHeaderParser::State::kNeedMore) {
    // Peek, then consume only the header's bytes: the client's first bytes
    // may be in the same segment and belong to the session.
    const IoResult peeked = transport_->Peek(buf, context.input_bytes_);
    if (peeked.status == IoResult::Status::kWouldBlock) {
      if (shutting_down_) {
        // No welcome yet; the shutdown line tells the client (through its
        // proxy) to come back, unlike a silent close.
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
    if (!peeked.ok()) {
      proxy_->OnEndOfStream();
      break;
    }
    const size_t used = proxy_->Feed(absl::string_view(buf, peeked.bytes));
    // Already queued, so this takes exactly `used` bytes.
    if (used > 0) transport_->Read(buf, used);
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
  health_check_ = header.kind == common::ProxyHeaderKind::kLocal;
  if (header.kind == common::ProxyHeaderKind::kProxy && !peer_.empty()) {
    peer_ = absl::StrCat(header.SourceName(), " (via ", peer_, ")");
  }
  proxy_.reset();
  SetState(State::kOpen);
  idle_deadline_ = now + config_->idle_timeout;
  if (health_check_ && config_->draining != nullptr &&
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
  return out + framer_.buffer_capacity() + transport_->heap_bytes();
}

absl::Time Session::SlowReaderDeadline() const {
  return replies_waiting_since_ + config_->idle_timeout;
}

absl::Time Session::WriteDeadline() const {
  return std::min(write_deadline_, closing_deadline_);
}

std::optional<Session::Wait> Session::WaitForUnsent(absl::Time now) {
  // Like a socket's kernel buffer, what the transport holds must make
  // progress every write timeout (and be gone by the grace deadline when
  // stopping), however long the client takes to read all of it.
  const size_t unsent = transport_->unsent();
  if (!unsent_wait_continues_ || unsent != unsent_seen_) {
    unsent_seen_ = unsent;
    unsent_deadline_ = now + config_->write_timeout;
  }
  const absl::Time deadline = std::min(unsent_deadline_, grace_deadline_);
  if (now < deadline) {
    unsent_wait_ = true;
    return Wait{Interest::kWrite, deadline};
  }
  VERBOSE(1) << peer_ << ": write timed out with " << unsent << " bytes unsent";
  Fail(ErrorKind::kWriteTimeout);
  return std::nullopt;
}

size_t Session::ReadBudget(const WorkerContext& context) const {
  // Replies a completion-based transport has taken but not yet sent count
  // against the output bound, as replies in out_ do: 0 while they fill it.
  const size_t unsent = transport_->unsent();
  if (unsent >= config_->max_output_bytes) return 0;
  const size_t cap = config_->max_output_bytes - unsent;
  size_t budget;
  // Most reply bytes one input byte can make.
  size_t expansion;
  if (config_->framing == common::Framing::kRaw) {
    budget = cap;
    expansion = 1;
  } else {
    // Worst case: the pending partial line completes (prefix + itself), every
    // other byte is an empty line (prefix + "\n"), and a closing line follows.
    const size_t prefix = config_->reply_prefix.size();
    const size_t reserved = framer_.pending_bytes() + prefix + LongestClosingLine();
    budget = cap > reserved ? (cap - reserved) / (prefix + 1) : 0;
    expansion = prefix + 1;
  }
  // One read's worst case (its bytes plus their replies) fits in a turn's
  // share, so a turn never runs past twice kTurnBytes.
  const size_t share = kTurnBytes / (1 + expansion);
  if (budget == 0 && unsent > 0) return 0;
  return std::clamp<size_t>(budget, 1, std::min(share, context.input_bytes_));
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
      const IoResult w = transport_->Write(staged.data() + sent, staged.size() - sent);
      if (!w.ok()) break;  // would block, or an error that Flush() will meet again
      sent += w.bytes;
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
  // A health check's line is not a goodbye to a client: not counted.
  Queue(health_check_ ? common::ClosingLineFor(config_->framing, line)
                      : ClosingLine(config_->framing, line, *stats_),
        staged);
  SetState(State::kClosing);
  closing_deadline_ = std::min(closing_deadline_, now + config_->write_timeout);
}

void Session::Finish(bool gracefully) {
  SetState(State::kDone);
  close_gracefully_ = gracefully;
  std::string().swap(out_);
  out_pos_ = 0;
}

void Session::Fail(ErrorKind kind, bool gracefully) {
  CountError(kind);
  Finish(gracefully);
}

void Session::CountError(ErrorKind kind) {
  // A health check that hangs up with a reset (as HAProxy's do) did its job.
  if (health_check_ || error_counted_) return;
  error_counted_ = true;
  stats_->Error(kind);
}

Session::FlushResult Session::Flush(absl::Time now) {
  while (out_pos_ < out_.size()) {
    const IoResult w = transport_->Write(out_.data() + out_pos_, out_.size() - out_pos_);
    if (w.ok()) {
      out_pos_ += w.bytes;
      write_deadline_ = now + config_->write_timeout;
      continue;
    }
    if (w.status == IoResult::Status::kWouldBlock) return FlushResult::kBlocked;
    VERBOSE(1) << peer_ << ": send failed: " << std::strerror(w.error);
    return FlushResult::kFailed;
  }
  // Only a slow client ever leaves output here: give the memory back.
  std::string().swap(out_);
  out_pos_ = 0;
  write_deadline_ = absl::InfiniteFuture();
  return FlushResult::kDrained;
}

size_t Session::OnData(absl::Time now, const char* data, size_t size, WorkerContext& context) {
  std::string& staged = context.staged_;
  WorkerCounters& counters = context.counters();
  if (config_->framing == common::Framing::kRaw) {
    Queue(absl::string_view(data, size), staged);
    AddOwned(counters.bytes, static_cast<int64_t>(size));
    idle_deadline_ = now + config_->idle_timeout;
    return size;
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
    idle_deadline_ = now + config_->idle_timeout;
  }
  if (!ok) {
    VERBOSE(1) << peer_ << ": line longer than " << config_->max_line_bytes << " bytes";
    CountError(ErrorKind::kLineTooLong);
    QueueClosingLine(now, common::kLineTooLongLine, staged);
  }
  return static_cast<size_t>(bytes) + static_cast<size_t>(lines) * config_->reply_prefix.size();
}

Session::Wait Session::Resume(absl::Time now, WorkerContext& context) {
  Wait wait = Turn(now, context);
  if (wait.interest == Interest::kDone) return wait;
  // The transport may wait for the other direction (a TLS handshake reads
  // before the welcome goes out) and may have a deadline of its own.
  wait.interest = transport_->WaitsToWrite(wait.interest == Interest::kWrite) ? Interest::kWrite
                                                                                : Interest::kRead;
  wait.deadline = std::min(wait.deadline, transport_->deadline());
  return wait;
}

Session::Wait Session::Turn(absl::Time now, WorkerContext& context) {
  // Whether the last turn ended waiting for the transport's unsent bytes:
  // then their deadline runs on unless they made progress.
  unsent_wait_continues_ = unsent_wait_;
  unsent_wait_ = false;
  std::string& staged = context.staged_;
  staged.clear();
  // This turn's share used so far (bytes read plus replies produced).
  size_t turn_bytes = 0;
  // The transport proved its input drained (see IoResult::drained): skip the
  // read that would only say so. Anything arriving later raises readiness.
  bool drained = false;
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
          if (replies_waiting_since_ == absl::InfiniteFuture()) replies_waiting_since_ = now;
          if (now >= WriteDeadline()) {
            VERBOSE(1) << peer_ << ": write timed out with " << pending_output()
                       << " bytes pending";
            Fail(ErrorKind::kWriteTimeout);
            continue;
          }
          if (state_ == State::kOpen && now >= SlowReaderDeadline()) {
            VERBOSE(1) << peer_ << ": replies waited for the client to read longer than the idle "
                       << "timeout (" << pending_output() << " bytes pending); closing";
            CountError(ErrorKind::kSlowReader);
            QueueClosingLine(now, common::kIdleTimeoutLine, staged);
            continue;
          }
          return {Interest::kWrite, state_ == State::kOpen
                                        ? std::min(WriteDeadline(), SlowReaderDeadline())
                                        : WriteDeadline()};
        case FlushResult::kDrained:
          // The client took every reply: however much input it still has
          // queued, it reads as fast as it sends (a bulk stream, not a slow
          // reader).
          replies_waiting_since_ = absl::InfiniteFuture();
          break;
      }
    }

    // Everything queued so far has been handed to the transport. One that
    // sends asynchronously may still hold some: the closing line, or the
    // replies before a client's FIN, go out before the session ends (as a
    // socket's kernel buffer delivers them after close()).
    if ((state_ == State::kClosing || peer_eof_) && transport_->unsent() > 0) {
      if (std::optional<Wait> wait = WaitForUnsent(now)) return *wait;
      continue;
    }
    if (state_ == State::kClosing) {
      Finish(/*gracefully=*/true);
      continue;
    }
    if (shutting_down_ && (final_read_done_ || peer_eof_)) {
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
    if (turn_bytes >= kTurnBytes) return {Interest::kRead, now};  // share used: yield
    if (drained) {
      framer_.ReleaseMemoryIfEmpty();
      return {Interest::kRead, idle_deadline_};
    }

    const size_t budget = ReadBudget(context);
    if (budget == 0) {
      // The transport's replies still on their way fill the output bound.
      if (std::optional<Wait> wait = WaitForUnsent(now)) return *wait;
      continue;
    }
    const IoResult r = transport_->Read(context.input_.get(), budget);
    switch (r.status) {
      case IoResult::Status::kOk:
        drained = r.drained;
        if (shutting_down_) final_read_done_ = true;
        turn_bytes += r.bytes + OnData(now, context.input_.get(), r.bytes, context);
        Emit(now, staged);
        continue;
      case IoResult::Status::kEof:
        peer_eof_ = true;
        continue;
      case IoResult::Status::kWouldBlock:
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
      case IoResult::Status::kError:
        VERBOSE(1) << peer_ << ": recv failed: " << std::strerror(r.error);
        Fail(ErrorKind::kConnectionReset);
        continue;
    }
  }
}

void Session::BeginShutdown(absl::Time grace_deadline) {
  closing_deadline_ = std::min(closing_deadline_, grace_deadline);
  grace_deadline_ = std::min(grace_deadline_, grace_deadline);
  shutting_down_ = true;
}

}  // namespace server
