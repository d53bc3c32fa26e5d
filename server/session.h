#ifndef SERVER_SESSION_H_
#define SERVER_SESSION_H_

// Session: one client's conversation, as a state machine over a non-blocking
// socket.
//
//   welcome ──► echo lines ──► closing line (bye / error) ──► done
//                    │                                          ▲
//                    └──── client EOF, reset, write timeout ─────┘
//
// Resume() does all the work possible without blocking (flush pending output,
// read what has arrived, frame it, queue replies) and returns what the session
// waits for next: the socket readable, the socket writable, or nothing (done),
// with the deadline by which Resume() must be called again even if the socket
// never becomes ready. Whoever drives the session (a worker polling this one
// socket, or a worker pool sharing an epoll set across parked sessions) only
// waits for that and calls Resume() again: the session never blocks and never
// knows which model runs it.
//
// Timeouts:
//  * idle: in line framing, the client must complete a line within
//    idle_timeout of its previous line (or of the welcome). Bytes that never
//    finish a line do not extend it, so a slowloris client trickling bytes
//    cannot keep a worker. In raw framing any received byte counts.
//  * write: pending output must make progress every write_timeout, or the
//    client is considered gone and the connection is dropped.
// Back-pressure: the session reads only after its replies are flushed, so a
// client that sends but never reads fills its own socket buffers and stops
// being read; server memory per session stays at one read's worth of replies.
//
// Thread safety: none. A session is run by one thread at a time; handing it
// to another thread must go through a synchronizing hand-off (a mutex-guarded
// queue or epoll, which both imply the needed memory ordering).

#include <cstddef>
#include <string>

#include "absl/time/time.h"
#include "absl/types/span.h"
#include "common/line_framer.h"
#include "common/unique_fd.h"
#include "server/server_options.h"
#include "server/stats.h"

namespace server {

// The session-relevant part of ServerOptions, shared read-only by sessions.
struct SessionConfig {
  Framing framing = Framing::kLine;
  std::string welcome_line;  // sent on connect (line framing), "\r\n" included
  std::string reply_prefix;
  size_t max_line_bytes = 8192;
  absl::Duration idle_timeout = absl::InfiniteDuration();
  absl::Duration write_timeout = absl::Seconds(10);

  static SessionConfig FromOptions(const ServerOptions& options);
};

class Session {
 public:
  enum class Interest { kRead, kWrite, kDone };
  struct Wait {
    Interest interest;
    absl::Time deadline;  // call Resume() by then even if not ready
  };

  // Takes ownership of a connected, non-blocking socket and queues the
  // welcome line. `config` and `stats` must outlive the session.
  Session(common::UniqueFd socket, const SessionConfig* config, Stats* stats, absl::Time now);
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Makes all progress possible without blocking. `scratch` is the caller's
  // read buffer (workers own one each, so idle sessions own none).
  Wait Resume(absl::Time now, absl::Span<char> scratch);

  // The server is stopping: answer the lines that have already arrived, then
  // send the shutdown line and close, all by `grace_deadline`. Idempotent.
  // Call Resume() afterwards to flush.
  void BeginShutdown(absl::Time grace_deadline, absl::Span<char> scratch);
  bool shutting_down() const { return shutting_down_; }

  // True once the session has nothing buffered (no partial line, no pending
  // output): parking it then costs only this object.
  bool idle() const;

  // Whether the server spoke last (busy/bye/error): the socket then needs a
  // graceful close (half-close and drain) so the line is not lost to a reset.
  bool wants_graceful_close() const { return close_gracefully_; }

  // For registering with poll()/epoll by the thread that runs the session.
  int fd() const { return socket_.get(); }
  const std::string& peer() const { return peer_; }

  // After Resume() returned kDone: hands the socket over for closing.
  common::UniqueFd ReleaseSocket() { return std::move(socket_); }

 private:
  enum class State { kOpen, kClosing, kDone };
  enum class FlushResult { kDrained, kBlocked, kFailed };

  FlushResult Flush(absl::Time now);
  void OnData(absl::Time now, const char* data, size_t size);
  void QueueOutput(absl::Time now, absl::string_view bytes);
  void QueueClosingLine(absl::Time now, absl::string_view line);
  void Finish(bool gracefully);
  absl::Time WriteDeadline() const;

  common::UniqueFd socket_;
  const SessionConfig* const config_;
  Stats* const stats_;
  const std::string peer_;
  common::LineFramer framer_;
  std::string out_;        // replies not yet sent
  size_t out_pos_ = 0;     // out_[0, out_pos_) already sent
  State state_ = State::kOpen;
  bool peer_eof_ = false;
  bool shutting_down_ = false;
  bool close_gracefully_ = false;
  absl::Time idle_deadline_;
  absl::Time write_deadline_;
  absl::Time closing_deadline_ = absl::InfiniteFuture();
};

}  // namespace server

#endif  // SERVER_SESSION_H_
