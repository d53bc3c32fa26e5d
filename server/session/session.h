#ifndef SERVER_SESSION_SESSION_H_
#define SERVER_SESSION_SESSION_H_

// Session: one client's conversation, as a state machine over a non-blocking
// socket.
//
//   [PROXY header] ──► welcome ──► echo lines ──► closing line (bye / error) ──► done
//        │                              │                                         ▲
//        └── missing, malformed, late ──┴──── client EOF, reset, write timeout ───┘
//
// With --proxy_protocol a connection must start with a PROXY header (from a
// load balancer such as HAProxy); it is read before the welcome, peeking so
// that the client's first bytes stay in the socket, within
// proxy_header_timeout. A connection without a valid header in time is
// closed without a word and counted by reason (RejectReason::kProxy*). The
// header's source address is the client's address in every log line. A
// LOCAL header is the proxy's own connection (a health check): while the
// server drains it is answered with the shutdown line instead of the
// welcome, so the proxy marks the server down before its listener closes.
//
// Resume() does all the work possible without blocking (flush pending output,
// read what has arrived, frame it, send replies) and returns what the session
// waits for next: input, room to write, or nothing (done), with the deadline
// by which Resume() must be called again even if nothing happens. Whoever
// drives the session (a classic worker polling this one socket, or an event
// worker multiplexing many) only waits for that and calls Resume() again: the
// session never blocks and never knows which scheduling model runs it. Its
// bytes move through a Transport (server/session/transport.h), so it does not
// know what carries them either.
//
// Edge-triggered drivers (common/poller.h states the contract): Resume()
// returns kRead only once the transport said it would block or proved itself
// drained, or when the session used up its fair share of one turn (then the
// deadline is `now`: run it again next turn without waiting for readiness).
// The share is bytes, not reads: about kTurnBytes of input and replies per
// Resume() (each read is sized so that even empty lines, seven bytes of reply
// per byte of input, stay within it), so one client pipelining without pause
// holds its worker no longer per turn than any other busy client.
//
// A connection whose PROXY header is LOCAL is the proxy's own health check:
// it is counted apart (Stats::health_checks) and never as a session or an
// error, however it ends (HAProxy's checks close with a reset).
//
// Bounds, each against a kind of hostile client:
//  * memory: replies are staged in the worker's buffer (WorkerContext) and
//    only the part the socket would not take is kept by the session, at most
//    `max_output_bytes`. The session reads only when its replies are flushed,
//    and reads at most what could expand into that many bytes of replies (an
//    empty line becomes prefix + "\n"), so a client that pipelines empty lines
//    and never reads costs one bounded buffer, not seven times its input.
//    Unread input stays in the kernel, whose socket buffers are bounded too.
//  * idle: in line framing, the client must complete a line within
//    idle_timeout of its previous line (or of the welcome). Bytes that never
//    finish a line do not extend it (slowloris). In raw framing any received
//    byte counts.
//  * slow readers: while replies wait for the client to read, the lines the
//    server works through from input it had already received are backlog,
//    not activity: the idle clock keeps running until the session has caught
//    up with its input. A client that pipelines a large burst and reads its
//    replies slowly is therefore closed once its backlog has lasted
//    idle_timeout (ErrorKind::kSlowReader), instead of holding the session
//    for as long as its backlog lasts.
//  * write: pending output must make progress every write_timeout. Once the
//    session has decided to close (any closing line) or the server is
//    stopping, the rest must be delivered within write_timeout (or the grace
//    period) in total, however slowly the client reads. Bytes a
//    completion-based transport has taken but not sent (Transport::unsent)
//    are like a socket's kernel buffer: they count against max_output_bytes
//    and must make progress every write_timeout; the session ends only once
//    they are gone (or stalled), so none is cancelled.
//
// Thread safety: none. A session is run by one thread at a time; handing it
// to another thread must go through a synchronizing hand-off.

#include <atomic>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/line_framer.h"
#include "common/proxy_protocol.h"
#include "common/protocol.h"
#include "common/unique_fd.h"
#include "server/admission_ticket.h"
#include "server/session/transport.h"
#include "server/stats.h"

namespace server {

// What sessions need of the server's options (built from them in
// server/component_configs.cc), shared read-only by every session.
struct SessionConfig {
  common::Framing framing = common::Framing::kLine;
  std::string welcome_line;  // sent on connect (line framing), "\r\n" included
  std::string reply_prefix;
  size_t max_line_bytes = 8192;
  size_t max_output_bytes = 64 * 1024;
  absl::Duration idle_timeout = absl::InfiniteDuration();
  absl::Duration write_timeout = absl::Seconds(10);
  std::optional<common::ProxyVersions> proxy_protocol;  // nullopt: no header expected
  absl::Duration proxy_header_timeout = absl::Seconds(3);
  // Set by the server when it starts to drain (may stay null: never).
  const std::atomic<bool>* draining = nullptr;

};

// What a worker lends to whichever session it is running: the buffer input
// is read into, the buffer replies are staged in before one send(), and the
// worker's own counters. Sessions keep nothing of it between turns, so an
// idle session owns no buffer at all.
class WorkerContext {
 public:
  WorkerContext(const SessionConfig& config, WorkerCounters* counters);
  WorkerContext(const WorkerContext&) = delete;
  WorkerContext& operator=(const WorkerContext&) = delete;

  WorkerCounters& counters() { return *counters_; }

 private:
  friend class Session;
  // Not zero-filled: its pages become resident only as reads fill them (a
  // session's share of a turn is often a few KiB), which matters in the
  // classic model, where every running session has a context of its own.
  std::unique_ptr<char[]> input_;
  size_t input_bytes_;
  std::string staged_;
  WorkerCounters* const counters_;
};

class Session {
 public:
  enum class Interest { kRead, kWrite, kDone };
  struct Wait {
    Interest interest;
    absl::Time deadline;  // call Resume() by then even if not ready
  };

  // Takes the connection's transport and its place in the connection count
  // (released when the session is destroyed) and queues the welcome line.
  // `config` and `stats` must outlive the session. `peer` is the client's
  // address for logs ("" when not logging).
  Session(std::unique_ptr<Transport> transport, AdmissionTicket ticket,
          const SessionConfig* config, Stats* stats, absl::Time now, std::string peer = {});
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // A session's fair share of one turn: bytes read plus replies produced.
  static constexpr size_t kTurnBytes = 64 * 1024;

  // Makes all progress possible without blocking. The wait is the one the
  // transport needs (Transport::WaitsToWrite, Transport::deadline).
  Wait Resume(absl::Time now, WorkerContext& context);

  // The driver's readiness report said the peer hung up or failed, or that
  // urgent data is pending (see Transport). Cheap; idempotent.
  void NoteShortReadsUnproven() { transport_->NoteShortReadsUnproven(); }

  // The server is stopping: the next Resume() answers what has already
  // arrived (as much as one bounded read holds), then sends the shutdown
  // line and closes, all by `grace_deadline`. Idempotent.
  void BeginShutdown(absl::Time grace_deadline);
  bool shutting_down() const { return shutting_down_; }

  // True once the session has nothing buffered (no partial line, no pending
  // output): it then costs only this object.
  bool idle() const;
  // Bytes of replies the client has not taken yet (bounded by
  // max_output_bytes plus a closing line).
  size_t pending_output() const { return out_.size() - out_pos_; }
  // Heap memory the session holds besides itself (buffers it owns).
  size_t heap_bytes() const;

  // Whether the server spoke last (busy/bye/error): the socket then needs a
  // graceful close (half-close and drain) so the line is not lost to a reset.
  bool wants_graceful_close() const { return close_gracefully_; }

  // The proxy's own connection (a LOCAL PROXY header): a health check.
  bool health_check() const { return health_check_; }

  // For registering with the driver's poller by the thread that runs it.
  int fd() const { return transport_->fd(); }
  // See Transport::completion_based(): not watched, never moved.
  bool completion_based() const { return transport_->completion_based(); }
  const std::string& peer() const { return peer_; }
  absl::Time started() const { return started_; }

  // After Resume() returned kDone: hands the socket over for closing.
  common::UniqueFd ReleaseSocket() { return transport_->ReleaseSocket(); }

 private:
  enum class State { kProxyHeader, kOpen, kClosing, kDone };
  static const char* StateName(State state);
  // Resume() before the transport's own wait is taken into account.
  Wait Turn(absl::Time now, WorkerContext& context);
  enum class FlushResult { kDrained, kBlocked, kFailed };

  // Reads what has arrived of the PROXY header; false while more is needed.
  bool ReadProxyHeader(absl::Time now, WorkerContext& context);
  void OnProxyHeader(absl::Time now, std::string& staged);
  FlushResult Flush(absl::Time now);
  // Sends `staged` (replies of this turn) after anything still pending;
  // what the socket does not take is kept in out_.
  void Emit(absl::Time now, std::string& staged);
  // Appends to `staged` when nothing is pending, else to out_ (order).
  void Queue(absl::string_view bytes, std::string& staged);
  // Frames `size` bytes of input and queues the replies; returns the reply
  // bytes produced.
  size_t OnData(absl::Time now, const char* data, size_t size, WorkerContext& context);
  void QueueClosingLine(absl::Time now, absl::string_view line, std::string& staged);
  // Every state change goes through here (logged at --v=2).
  void SetState(State next);
  void Finish(bool gracefully);
  void Fail(ErrorKind kind, bool gracefully = false);
  // Counts the session's error: at most one per session (a slow reader that
  // then cannot take its closing line is one error, not two), none for a
  // health check.
  void CountError(ErrorKind kind);
  // Bytes to read next; 0 (only while a transport holds unsent replies):
  // none until they have gone.
  size_t ReadBudget(const WorkerContext& context) const;
  // Waits for the transport's unsent bytes; nullopt (the session failed)
  // once they made no progress for the write timeout or the grace passed.
  std::optional<Wait> WaitForUnsent(absl::Time now);
  absl::Time WriteDeadline() const;
  absl::Time SlowReaderDeadline() const;

  std::unique_ptr<Transport> transport_;
  AdmissionTicket ticket_;
  const SessionConfig* const config_;
  Stats* const stats_;
  std::string peer_;
  const absl::Time started_;
  std::unique_ptr<common::ProxyHeaderParser> proxy_;  // while reading the header
  common::LineFramer framer_;
  std::string out_;        // replies the socket has not taken yet
  size_t out_pos_ = 0;     // out_[0, out_pos_) already sent
  State state_ = State::kOpen;
  absl::Time proxy_deadline_ = absl::InfiniteFuture();
  bool peer_eof_ = false;
  bool shutting_down_ = false;
  bool final_read_done_ = false;  // shutting down: the last read is in
  // Since when replies have waited for the client without it ever taking
  // them all (InfiniteFuture: none waiting). A slow reader is one whose
  // replies wait that way longer than the idle timeout: its lines, however
  // many, are not activity then, while a bulk stream that keeps taking every
  // reply is never one, however much input it has queued.
  absl::Time replies_waiting_since_ = absl::InfiniteFuture();
  bool close_gracefully_ = false;
  bool health_check_ = false;
  bool error_counted_ = false;
  absl::Time idle_deadline_;
  absl::Time write_deadline_ = absl::InfiniteFuture();
  absl::Time closing_deadline_ = absl::InfiniteFuture();
  absl::Time grace_deadline_ = absl::InfiniteFuture();  // BeginShutdown's
  // WaitForUnsent: the transport's unsent bytes when last seen, and when
  // they must next have made progress, over one continuous wait (one that
  // the last turn ended in, unsent_wait_, and this one continues).
  size_t unsent_seen_ = 0;
  absl::Time unsent_deadline_ = absl::InfiniteFuture();
  bool unsent_wait_ = false;
  bool unsent_wait_continues_ = false;
};

}  // namespace server

#endif  // SERVER_SESSION_SESSION_H_
