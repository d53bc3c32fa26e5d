#ifndef CLIENT_CLOSED_LOOP_WORKER_H_
#define CLIENT_CLOSED_LOOP_WORKER_H_

// ClosedLoopWorker: one thread of the closed-loop generator
// (client/load_generator.h): its connections, each in one of the modes
// (ping-pong, connect, idle), and one level-triggered epoll loop. Split from
// RunLoad(), which starts the workers, shows progress and sums their reports.
//
// Thread safety: Run() is called once, on the thread that then owns every
// member; report() is read after that thread is joined. The shared counters
// are atomics, read by the progress display while the workers run.

#include <sys/epoll.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "client/load_generator.h"
#include "client/load_report.h"
#include "client/tls_client.h"
#include "common/socket.h"
#include "common/unique_fd.h"

namespace client {

// Counters shared with the progress display (the caller's, if it gave one).
struct ClosedLoopShared {
  LoadProgress own;
  LoadProgress* live = &own;
  std::atomic<int64_t> issued{0};  // requests handed out (for --requests)
  std::atomic<bool> stop{false};
};

class ClosedLoopWorker {
 public:
  ClosedLoopWorker(const LoadOptions& options, const common::SocketAddress& address,
                   int first_id, int count, ClosedLoopShared* shared)
      : options_(options),
        address_(address),
        shared_(shared),
        epoll_(::epoll_create1(EPOLL_CLOEXEC)) {
    conns_.resize(static_cast<size_t>(count));
    for (int i = 0; i < count; ++i) conns_[i].id = first_id + i;
    expected_prefix_ = options.raw ? "" : options.expect_prefix;
  }
  ~ClosedLoopWorker() { SSL_SESSION_free(session_); }
  ClosedLoopWorker(const ClosedLoopWorker&) = delete;
  ClosedLoopWorker& operator=(const ClosedLoopWorker&) = delete;

  void Run(int64_t start_nanos, int64_t end_nanos);
  LoadReport& report() { return report_; }
  void Seed(uint64_t seed) { rng_ ^= seed * 0xbf58476d1ce4e5b9ull; }

 private:
  enum class State { kIdle, kConnecting, kWelcome, kAwaiting, kHolding, kDead };
  struct Conn {
    int id = 0;
    State state = State::kIdle;
    common::UniqueFd fd;
    uint64_t seq = 0;
    std::string out;
    size_t out_pos = 0;
    std::string expected;
    size_t matched = 0;
    std::string line;  // welcome bytes so far
    int64_t started = 0;
    int64_t deadline = 0;
    bool want_write = false;
    bool served = false;  // completed at least one round trip
    std::unique_ptr<TlsClientStream> tls;  // with --tls; reset before `fd`
    int lines_done = 0;   // round trips on this connection (idle mode)
    bool connected_before = false;  // a later connect is a reconnect
  };

  void Connect(Conn& c, int64_t now);
  void OnEvent(Conn& c, uint32_t events, int64_t now);
  void OnConnected(Conn& c, uint32_t events, int64_t now);
  void OnReadable(Conn& c, int64_t now);
  void ReadOnce(Conn& c, int64_t now);
  // TLS: starts or continues the handshake; true once it is done.
  bool Handshake(Conn& c);
  void SendNext(Conn& c, int64_t now);
  void Flush(Conn& c);
  void Kill(Conn& c, int64_t* counter);
  void MarkServed(Conn& c, int64_t now);
  static bool Connected(const Conn& c);
  void Watch(Conn& c, bool writable);
  bool TakeRequest();
  uint64_t Random() {  // xorshift64: cheap, deterministic per worker
    rng_ ^= rng_ << 13;
    rng_ ^= rng_ >> 7;
    rng_ ^= rng_ << 17;
    return rng_;
  }

  const LoadOptions& options_;
  const common::SocketAddress& address_;
  ClosedLoopShared* shared_;
  common::UniqueFd epoll_;
  std::vector<Conn> conns_;
  std::string expected_prefix_;
  LoadReport report_;
  int64_t start_ = 0;
  int connecting_ = 0;
  int64_t open_now_ = 0;
  uint64_t rng_ = 0x9e3779b97f4a7c15ull;
  SSL_SESSION* session_ = nullptr;  // tls_resume: offered to new connections
  char buf_[65536];
};

// Nanoseconds on the clock the workers and RunLoad() time with.
int64_t ClosedLoopNowNanos();

}  // namespace client

#endif  // CLIENT_CLOSED_LOOP_WORKER_H_
