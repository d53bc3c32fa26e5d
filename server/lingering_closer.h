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
// The lingering happens on this object's own thread, in its own EventLoop
// (level-triggered watches: each report is read until it would block), so
// neither the acceptor (rejecting a flood) nor a worker ever waits for a slow
// client to hang up. At most `max_sockets` linger at once; beyond that (e.g.
// when file descriptors are scarce) sockets are closed at once. A client that
// keeps sending after its closing line gets at most 256 KiB read and thrown
// away, then the close: its flood cannot keep a thread busy.
//
// Thread safety: Start() once, then Close() from any thread; Stop() once,
// from the owner, after every Close(). Sockets cross to the closer's thread
// through a mutex-guarded inbox.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <thread>
#include <unordered_map>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/deadline_index.h"
#include "common/event_loop.h"
#include "common/unique_fd.h"

namespace server {

class LingeringCloser : private common::EventLoop::Handler {
 public:
  LingeringCloser(absl::Duration linger, size_t max_sockets);
  ~LingeringCloser() override;  // Stop()s if still running

  // Creates the event loop and starts the thread; an error (no descriptors,
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

  // Sockets lingering now (a hint from other threads).
  size_t lingering() const { return static_cast<size_t>(count_.load(std::memory_order_relaxed)); }

 private:
  struct Entry {
    common::UniqueFd socket;
    size_t discard_budget;  // input still to be read and thrown away
    common::DeadlineIndex::Entry timer;
  };

  // Sends `last_line`, half-closes and discards pending input (lowering
  // `budget`); true if there is nothing left to linger for (the peer closed
  // too, or the budget ran out).
  static bool SayLastLineAndHalfClose(const common::UniqueFd& socket,
                                      absl::string_view last_line, size_t& budget);

  // EventLoop::Handler, on the closer's thread.
  void OnWake(absl::Time now) override;
  void OnReady(uint64_t id, uint32_t readiness, absl::Time now) override;
  void OnDue(uint64_t id, absl::Time now) override;
  common::DeadlineIndex::Entry& TimerEntry(uint64_t id) override;
  void AfterTurn(absl::Time now) override;
  void Erase(uint64_t id);

  const absl::Duration linger_;
  const size_t max_sockets_;
  std::unique_ptr<common::EventLoop> loop_;  // set by Start(), before the thread
  std::atomic<bool> started_{false};
  std::atomic<bool> stop_requested_{false};
  std::atomic<int64_t> stop_deadline_ns_{0};
  std::atomic<int64_t> count_{0};  // in the inbox or lingering
  absl::Mutex inbox_mu_;
  std::vector<Entry> inbox_ ABSL_GUARDED_BY(inbox_mu_);
  std::thread thread_;

  // The closer's thread only.
  uint64_t next_id_ = 1;  // 0 is the loop's own token
  std::unordered_map<uint64_t, Entry> entries_;
  bool stopping_ = false;
  absl::Time stop_deadline_ = absl::InfiniteFuture();
};

}  // namespace server

#endif  // SERVER_LINGERING_CLOSER_H_
