#ifndef CLIENT_OPEN_LOOP_WORKER_H_
#define CLIENT_OPEN_LOOP_WORKER_H_

// OpenLoopWorker: one thread of the open-loop generator (client/open_loop.h):
// its connections, their schedules and one epoll loop.
//
// Connections open at their --connect_rate times, start their schedule at a
// random phase once welcomed, and send each line when due if fewer than
// max_in_flight are unanswered (a min-heap of due times over the free
// connections). The loop sleeps on a timerfd set options.spin before the
// next due time, then busy-polls epoll_wait(0); polling with nothing to do is
// timed so the report can give the generator's cost per line.
//
// Thread safety: Run() is called once, on the thread that then owns every
// member; report() and stopped_at() are read after that thread is joined.
// options.stop may be set from any thread.

#include <sys/epoll.h>

#include <cmath>
#include <cstdint>
#include <memory>
#include <queue>
#include <string>
#include <utility>
#include <vector>

#include "client/load_generator.h"
#include "client/load_report.h"
#include "client/pipelined_lines.h"
#include "common/socket.h"
#include "common/unique_fd.h"

namespace client {

class OpenLoopWorker {
 public:
  OpenLoopWorker(const LoadOptions& options, const common::SocketAddress& address, int first_id,
                 int count);

  // The clock schedules are kept in: CLOCK_MONOTONIC, nanoseconds.
  static int64_t Now();

  // Runs from `start` (connects ramp from there) to `end` or until stop;
  // lines due before `counted_from` are sent but not counted.
  void Run(int64_t start, int64_t counted_from, int64_t end);
  LoadReport& report() { return report_; }
  int64_t stopped_at() const { return stopped_at_; }

 private:
  enum class State { kWaiting, kConnecting, kWelcome, kRunning, kDead };
  struct Conn {
    int id = 0;
    State state = State::kWaiting;
    common::UniqueFd fd;
    int64_t connect_at = 0;
    int64_t next_due = 0;
    int64_t free_since = 0;  // when it last became free to send
    int64_t deadline = 0;    // connect/welcome
    std::string welcome;
    std::unique_ptr<PipelinedLines> lines;  // while running
    bool scheduled = false;                 // in the due heap
    bool want_write = false;
    size_t in_flight() const { return lines == nullptr ? 0 : lines->in_flight(); }
  };
  using Due = std::pair<int64_t, Conn*>;
  struct Later {
    bool operator()(const Due& a, const Due& b) const { return a.first > b.first; }
  };

  double Random01() {  // xorshift64, (0, 1]
    rng_ ^= rng_ << 13;
    rng_ ^= rng_ >> 7;
    rng_ ^= rng_ << 17;
    return static_cast<double>((rng_ >> 11) + 1) / 9007199254740992.0;
  }
  int64_t Gap() {
    const double gap = options_.poisson ? -std::log(Random01()) * interval_ : interval_;
    return static_cast<int64_t>(gap);
  }
  void Connect(Conn& c, int64_t now);
  void Start(Conn& c, int64_t now);
  void Schedule(Conn& c) {
    if (c.scheduled) return;
    c.scheduled = true;
    due_.push({c.next_due, &c});
  }
  void SendDue(int64_t now);
  void SendLine(Conn& c, int64_t now);
  void Flush(Conn& c);
  void OnEvent(Conn& c, uint32_t events, int64_t now);
  void OnReadable(Conn& c, int64_t now);
  void OnReply(const PipelinedLines::Flight& f, int64_t now);
  void Kill(Conn& c, int64_t* counter);
  void Watch(Conn& c, bool writable);
  void ArmTimer(int64_t at);
  void Sweep(int64_t now);

  const LoadOptions& options_;
  const common::SocketAddress& address_;
  common::UniqueFd epoll_;
  common::UniqueFd timer_;
  const std::string expected_prefix_;
  const size_t line_bytes_;
  const double interval_;  // mean gap between one connection's lines, ns
  const int64_t spin_nanos_;  // wake this long before a due line and busy-poll the rest
  std::vector<Conn> conns_;
  std::priority_queue<Due, std::vector<Due>, Later> due_;
  LoadReport report_;
  int64_t counted_from_ = 0;
  int64_t stopped_at_ = 0;
  bool stopping_ = false;
  int connecting_ = 0;
  int64_t open_now_ = 0;
  int64_t armed_at_ = -1;
  uint64_t rng_ = 0x9e3779b97f4a7c15ull;
  char buf_[65536];
};

}  // namespace client

#endif  // CLIENT_OPEN_LOOP_WORKER_H_
