#ifndef SERVER_LINGERING_CLOSER_H_
#define SERVER_LINGERING_CLOSER_H_

// LingeringCloser: closes sockets so that the last line the server sent
// (busy, bye, error) actually reaches the client.
//
// A plain close() of a socket with unread input makes the kernel send RST,
// and an RST can destroy data still in flight to the peer: the client would
// see "connection reset" instead of the line explaining why. So, like Apache's
// lingering close, this half-closes (our FIN follows the data), then keeps
// reading and discarding input until the client closes too or `linger`
// passes, and only then closes.
//
// The lingering happens on this object's own thread (one epoll set), so
// neither the acceptor (rejecting a flood) nor a worker ever waits for a slow
// client to hang up. At most `max_sockets` linger at once; beyond that (e.g.
// when file descriptors are scarce) sockets are closed at once. A client that
// keeps sending after its closing line gets at most 256 KiB read and thrown
// away, then the close: its flood cannot keep a thread busy.
//
// Thread safety: Start() once, then Close() from any thread; Stop() once,
// from the owner, after every Close().

#include <cstddef>
#include <cstdint>
#include <deque>
#include <thread>
#include <unordered_map>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/unique_fd.h"
#include "common/wakeup_fd.h"

namespace server {

class LingeringCloser {
 public:
  LingeringCloser(absl::Duration linger, size_t max_sockets);
  ~LingeringCloser();  // Stop()s if still running

  // Creates the epoll set and starts the thread; an error (no descriptors,
  // no thread) leaves nothing running. Until it succeeds, Close() closes at
  // once.
  absl::Status Start();
  LingeringCloser(const LingeringCloser&) = delete;
  LingeringCloser& operator=(const LingeringCloser&) = delete;

  // Takes the socket, sends `last_line` (if any), and closes it gracefully.
  // The line is sent without waiting: the sockets closed here have empty
  // send buffers (fresh, or their replies flushed), so a short line fits.
  void Close(common::UniqueFd socket, absl::string_view last_line = {});

  // The same without lingering, for when descriptors are exactly what is
  // short: sends `last_line`, half-closes, discards pending input, closes.
  static void CloseNow(common::UniqueFd socket, absl::string_view last_line);

  // Waits until every lingering socket has closed or `deadline` passes,
  // closes the rest and joins the thread.
  void Stop(absl::Time deadline);

  size_t lingering() const;

 private:
  struct Entry {
    common::UniqueFd socket;
    absl::Time deadline;
    size_t discard_budget;  // input still to be read and thrown away
  };

  // Sends `last_line`, half-closes and discards pending input (lowering
  // `budget`); true if there is nothing left to linger for (the peer closed
  // too, or the budget ran out).
  static bool SayLastLineAndHalfClose(const common::UniqueFd& socket,
                                      absl::string_view last_line, size_t& budget);
  void Run();
  void Expire(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const absl::Duration linger_;
  const size_t max_sockets_;
  common::UniqueFd epoll_;
  common::WakeupFd stop_;
  mutable absl::Mutex mu_;
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  std::unordered_map<uint64_t, Entry> entries_ ABSL_GUARDED_BY(mu_);
  // Ids in deadline order (every socket lingers equally long).
  std::deque<uint64_t> by_deadline_ ABSL_GUARDED_BY(mu_);
  absl::Time stop_deadline_ ABSL_GUARDED_BY(mu_) = absl::InfiniteFuture();
  std::thread thread_;
};

}  // namespace server

#endif  // SERVER_LINGERING_CLOSER_H_
