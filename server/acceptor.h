#ifndef SERVER_ACCEPTOR_H_
#define SERVER_ACCEPTOR_H_

// Acceptor: the one thread that accepts connections and hands them to the
// workers through the bounded queue, applying the overload policy.
//
//  * reject: accept everything; when the queue is full, answer the busy line
//    and close (via the LingeringCloser, so the line arrives).
//  * block: wait for queue space *before* accept(), so excess clients wait in
//    the kernel's listen backlog (and time out there if it stays full).
//
// Out of file descriptors (EMFILE/ENFILE): the listener stays readable, so a
// naive loop spins at 100% CPU. This one keeps a reserved descriptor: it
// releases it, accepts the waiting client, tells it "busy" and closes it, then
// re-reserves (libev's "special problem of accept()ing when you can't", as in
// muduo). If even that fails it backs off 10 ms -> 1 s. Each episode is
// counted and logged once, and service resumes by itself once descriptors
// free up.
//
// Thread safety: Run() is the thread body; everything else it touches
// (queue, closer, stats, stop) is itself thread-safe.

#include "absl/strings/string_view.h"
#include "common/bounded_queue.h"
#include "common/unique_fd.h"
#include "common/wakeup_fd.h"
#include "server/connection.h"
#include "server/lingering_closer.h"
#include "server/server_options.h"
#include "server/stats.h"

namespace server {

class Acceptor {
 public:
  Acceptor(common::UniqueFd listener, OverloadPolicy policy, Framing framing,
           common::BoundedQueue<Connection>* queue, LingeringCloser* closer, Stats* stats);
  Acceptor(const Acceptor&) = delete;
  Acceptor& operator=(const Acceptor&) = delete;

  // Accepts until `stop` is notified (or, under `block`, the queue closes).
  // Closes the listener before returning, so new clients are refused at once.
  void Run(const common::WakeupFd& stop);

 private:
  // Returns false when the listener has nothing more to accept for now.
  bool AcceptOne();
  void Dispatch(common::UniqueFd socket);
  void Reject(common::UniqueFd socket, bool linger);
  void OnFdExhausted(int err);
  // `line` in line framing; nothing in raw framing (a pure echo adds no text).
  absl::string_view ProtocolLine(absl::string_view line) const;

  common::UniqueFd listener_;
  const OverloadPolicy policy_;
  const Framing framing_;
  common::BoundedQueue<Connection>* const queue_;
  LingeringCloser* const closer_;
  Stats* const stats_;
  common::UniqueFd reserve_;  // spare descriptor for the EMFILE trick
  bool fd_episode_ = false;
  absl::Duration backoff_ = absl::ZeroDuration();
};

}  // namespace server

#endif  // SERVER_ACCEPTOR_H_
