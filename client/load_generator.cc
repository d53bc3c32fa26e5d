#include "client/load_generator.h"

#include <errno.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/notification.h"
#include "common/fd_limit.h"
#include "common/protocol.h"
#include "common/socket.h"
#include "common/unique_fd.h"

namespace client {
namespace {

using Clock = std::chrono::steady_clock;

int64_t NowNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

// Counters shared with the progress display.
struct Shared {
  std::atomic<int64_t> round_trips{0};
  std::atomic<int64_t> issued{0};  // requests handed out (for --requests)
  std::atomic<int64_t> open{0};
  std::atomic<bool> stop{false};
};

class Worker {
 public:
  Worker(const LoadOptions& options, const common::SocketAddress& address, int first_id,
         int count, Shared* shared)
      : options_(options),
        address_(address),
        shared_(shared),
        epoll_(::epoll_create1(EPOLL_CLOEXEC)) {
    conns_.resize(static_cast<size_t>(count));
    for (int i = 0; i < count; ++i) conns_[i].id = first_id + i;
    expected_prefix_ = options.raw ? "" : options.expect_prefix;
  }

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
    int lines_done = 0;   // round trips on this connection (idle mode)
  };

  void Connect(Conn& c, int64_t now);
  void OnEvent(Conn& c, uint32_t events, int64_t now);
  void OnConnected(Conn& c, uint32_t events, int64_t now);
  void OnReadable(Conn& c, int64_t now);
  void SendNext(Conn& c, int64_t now);
  void Flush(Conn& c);
  void Kill(Conn& c, int64_t* counter);
  void MarkServed(Conn& c, int64_t now);
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
  Shared* shared_;
  common::UniqueFd epoll_;
  std::vector<Conn> conns_;
  std::string expected_prefix_;
  LoadReport report_;
  int64_t start_ = 0;
  int connecting_ = 0;
  int64_t open_now_ = 0;
  uint64_t rng_ = 0x9e3779b97f4a7c15ull;
  char buf_[65536];
};

bool Worker::TakeRequest() {
  if (options_.requests <= 0) return true;
  return shared_->issued.fetch_add(1, std::memory_order_relaxed) < options_.requests;
}

void Worker::Watch(Conn& c, bool writable) {
  epoll_event ev{};
  ev.events = EPOLLIN | (writable ? static_cast<uint32_t>(EPOLLOUT) : 0u);
  ev.data.ptr = &c;
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, c.fd.get(), &ev);
  c.want_write = writable;
}

void Worker::Connect(Conn& c, int64_t now) {
  auto fd = common::StartConnect(address_);
  if (!fd.ok()) {
    ++report_.connect_failures;
    c.state = State::kDead;
    return;
  }
  c.fd = std::move(*fd);
  c.state = State::kConnecting;
  c.started = now;
  c.deadline = now + absl::ToInt64Nanoseconds(options_.timeout);
  c.line.clear();
  // In line mode the welcome itself says the connect succeeded, so wait for
  // input straight away: no writability round, no SO_ERROR query, no
  // re-registration (a third fewer system calls per new connection). Raw
  // echo has no welcome and must wait for the connect to complete.
  epoll_event ev{};
  ev.events = options_.raw ? EPOLLOUT : EPOLLIN;
  ev.data.ptr = &c;
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, c.fd.get(), &ev);
  c.want_write = options_.raw;
  ++connecting_;
}

void Worker::Kill(Conn& c, int64_t* counter) {
  if (counter != nullptr) ++*counter;
  // The server ended the session with a closing line: come back, if asked to.
  const bool reconnect = options_.reconnect && !shared_->stop.load(std::memory_order_relaxed) &&
                         (counter == &report_.server_closed || counter == &report_.busy);
  if (c.state == State::kConnecting) --connecting_;
  if (c.state == State::kWelcome || c.state == State::kAwaiting || c.state == State::kHolding) {
    --open_now_;
    shared_->open.fetch_sub(1, std::memory_order_relaxed);
  }
  c.fd.Reset();  // closing also removes it from the epoll set
  c.state = reconnect ? State::kIdle : State::kDead;
}

void Worker::SendNext(Conn& c, int64_t now) {
  if (shared_->stop.load(std::memory_order_relaxed) || !TakeRequest()) {
    shared_->stop.store(true, std::memory_order_relaxed);
    return;
  }
  // "<id>:<seq>:" then filler, then '\n': every line is unique (lines too
  // short for the tag are filler only).
  size_t len = static_cast<size_t>(std::max(options_.payload_bytes, 16));
  if (options_.payload_bytes_max > 0) {
    len = 1 + static_cast<size_t>(Random() % static_cast<uint64_t>(options_.payload_bytes_max));
  }
  c.out = absl::StrCat(c.id, ":", c.seq++, ":");
  if (c.out.size() > len - 1) c.out.clear();
  c.out.append(len - 1 - c.out.size(), static_cast<char>('a' + c.seq % 26));
  c.out.push_back('\n');
  c.out_pos = 0;
  c.expected = absl::StrCat(expected_prefix_, c.out);
  c.matched = 0;
  c.state = State::kAwaiting;
  c.started = now;
  c.deadline = now + absl::ToInt64Nanoseconds(options_.timeout);
  Flush(c);
}

void Worker::Flush(Conn& c) {
  while (c.out_pos < c.out.size()) {
    ssize_t n = ::send(c.fd.get(), c.out.data() + c.out_pos, c.out.size() - c.out_pos,
                       MSG_NOSIGNAL);
    if (n > 0) {
      c.out_pos += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      if (!c.want_write) Watch(c, true);
      return;
    }
    Kill(c, &report_.resets);
    return;
  }
  ++report_.lines_sent;
  if (c.want_write) Watch(c, false);
}

void Worker::OnConnected(Conn& c, uint32_t events, int64_t now) {
  --connecting_;
  if ((options_.raw || (events & EPOLLERR)) && !common::ConnectResult(c.fd).ok()) {
    c.fd.Reset();
    ++report_.connect_failures;
    c.state = State::kDead;
    return;
  }
  ++open_now_;
  ++report_.sessions;
  shared_->open.fetch_add(1, std::memory_order_relaxed);
  report_.connections_established = std::max(report_.connections_established, open_now_);
  if (options_.raw) {
    Watch(c, false);
    c.state = State::kAwaiting;
    SendNext(c, now);
  } else {
    c.state = State::kWelcome;
    OnReadable(c, now);  // the event that completed the connect was input
  }
}

void Worker::OnReadable(Conn& c, int64_t now) {
  ssize_t n = ::recv(c.fd.get(), buf_, sizeof(buf_), 0);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (n <= 0) {
    // A closing line ends the session before its EOF arrives; an EOF or a
    // reset here came without one.
    Kill(c, n == 0 ? &report_.eofs : &report_.resets);
    return;
  }
  absl::string_view data(buf_, static_cast<size_t>(n));
  if (c.state == State::kWelcome) {
    size_t nl = data.find('\n');
    c.line.append(data.data(), nl == absl::string_view::npos ? data.size() : nl + 1);
    if (nl == absl::string_view::npos) return;
    if (common::IsClosingLine(c.line)) {  // in place of the welcome
      Kill(c, c.line.rfind("busy:", 0) == 0 ? &report_.busy : &report_.server_closed);
      return;
    }
    if (nl + 1 != data.size()) {
      // Nothing may follow the welcome unasked but a closing line (a server
      // that began to stop right after welcoming this client).
      Kill(c, common::MayBeClosingLine(data.substr(nl + 1)) ? &report_.server_closed
                                                             : &report_.mismatches);
      return;
    }
    if (options_.mode == LoadOptions::Mode::kIdle && options_.idle_after_lines == 0) {
      c.state = State::kHolding;
      MarkServed(c, now);
      return;
    }
    SendNext(c, now);
    if (c.state != State::kAwaiting) Kill(c, nullptr);  // stopping
    return;
  }
  if (c.state == State::kHolding) {  // the server spoke to an idle client: it is closing
    Kill(c, &report_.server_closed);
    return;
  }
  if (c.state != State::kAwaiting) return;
  const size_t want = c.expected.size() - c.matched;
  const absl::string_view reply = data.substr(0, want);
  report_.bytes_received += static_cast<int64_t>(reply.size());
  if (reply != absl::string_view(c.expected).substr(c.matched, reply.size())) {
    // A closing line in place of the reply is the server ending the session.
    const bool closing = c.matched == 0 && common::MayBeClosingLine(data) &&
                         !common::MayBeClosingLine(c.expected);
    Kill(c, closing ? &report_.server_closed : &report_.mismatches);
    return;
  }
  c.matched += reply.size();
  if (c.matched < c.expected.size()) return;
  // Bytes after a complete reply were not asked for: only a closing line
  // (the server ending the session, e.g. at shutdown) may follow.
  if (data.size() > want) {
    report_.latency.Record(now - c.started);
    ++report_.round_trips;
    Kill(c, common::MayBeClosingLine(data.substr(want)) ? &report_.server_closed
                                                         : &report_.mismatches);
    return;
  }
  report_.latency.Record(now - c.started);
  ++report_.round_trips;
  MarkServed(c, now);
  shared_->round_trips.fetch_add(1, std::memory_order_relaxed);
  if (options_.mode == LoadOptions::Mode::kIdle && ++c.lines_done >= options_.idle_after_lines) {
    c.state = State::kHolding;
    return;
  }
  const bool disconnect =
      options_.mode == LoadOptions::Mode::kConnect ||
      (options_.disconnect_probability > 0 &&
       static_cast<double>(Random() % 1000000) < options_.disconnect_probability * 1e6);
  if (disconnect) {
    Kill(c, nullptr);
    if (!shared_->stop.load(std::memory_order_relaxed)) c.state = State::kIdle;
    return;
  }
  SendNext(c, now);
  if (c.state != State::kAwaiting || c.matched == c.expected.size()) Kill(c, nullptr);
}

void Worker::MarkServed(Conn& c, int64_t now) {
  if (c.served) return;
  c.served = true;
  if (++report_.connections_served == static_cast<int64_t>(conns_.size())) {
    report_.all_served_after = absl::Nanoseconds(now - start_);
  }
}

void Worker::OnEvent(Conn& c, uint32_t events, int64_t now) {
  if (c.state == State::kConnecting) {
    if (events & (EPOLLIN | EPOLLOUT | EPOLLERR | EPOLLHUP)) OnConnected(c, events, now);
    return;
  }
  if ((events & EPOLLOUT) && c.state == State::kAwaiting) Flush(c);
  if (c.state == State::kDead || !c.fd.valid()) return;
  if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) OnReadable(c, now);
}

void Worker::Run(int64_t start_nanos, int64_t end_nanos) {
  start_ = start_nanos;
  constexpr int kMaxEvents = 256;
  epoll_event events[kMaxEvents];
  int64_t last_sweep = NowNanos();
  for (;;) {
    int64_t now = NowNanos();
    const bool stopping = shared_->stop.load(std::memory_order_relaxed) ||
                          (end_nanos > 0 && now >= end_nanos) ||
                          (options_.stop != nullptr && options_.stop->load());
    if (stopping) shared_->stop.store(true, std::memory_order_relaxed);
    // (Re)connect idle connections, a bounded number at a time.
    if (!stopping) {
      for (Conn& c : conns_) {
        if (connecting_ >= options_.max_connecting) break;
        if (c.state == State::kIdle) Connect(c, now);
      }
    }
    bool any_busy = false;
    for (const Conn& c : conns_) {
      if (c.state == State::kConnecting || c.state == State::kAwaiting ||
          (c.state == State::kIdle && !stopping)) {
        any_busy = true;
        break;
      }
      if ((c.state == State::kWelcome || c.state == State::kHolding) && !stopping) {
        any_busy = true;
        break;
      }
    }
    if (stopping && !any_busy) break;
    if (stopping) {
      for (Conn& c : conns_) {
        if (c.state == State::kHolding) Kill(c, nullptr);
      }
    }
    if (!stopping && !any_busy && open_now_ == 0) break;  // everything died

    int n = ::epoll_wait(epoll_.get(), events, kMaxEvents, 50);
    now = NowNanos();
    for (int i = 0; i < n; ++i) {
      OnEvent(*static_cast<Conn*>(events[i].data.ptr), events[i].events, now);
    }
    if (now - last_sweep > 50 * 1000 * 1000) {
      last_sweep = now;
      for (Conn& c : conns_) {
        const bool waiting = c.state == State::kConnecting || c.state == State::kWelcome ||
                             c.state == State::kAwaiting;
        if (!waiting) continue;
        if (stopping && c.state != State::kAwaiting) {
          Kill(c, nullptr);
        } else if (now >= c.deadline) {
          Kill(c, c.state == State::kConnecting ? &report_.connect_failures : &report_.timeouts);
        }
      }
    }
  }
  for (Conn& c : conns_) {
    if (c.fd.valid()) Kill(c, nullptr);
  }
}

}  // namespace

double LoadReport::round_trips_per_second() const {
  const double s = absl::ToDoubleSeconds(elapsed);
  return s > 0 ? static_cast<double>(round_trips) / s : 0;
}

double LoadReport::megabytes_per_second() const {
  const double s = absl::ToDoubleSeconds(elapsed);
  return s > 0 ? static_cast<double>(bytes_received) / s / 1e6 : 0;
}

namespace {

// Every number a report prints, in one place for both formats.
struct ReportNumbers {
  double seconds, rtt_per_s, mb_per_s, p50, p90, p99, p999, max;  // latencies in us
};

ReportNumbers Numbers(const LoadReport& r) {
  auto us = [&](double q) { return static_cast<double>(r.latency.Percentile(q)) / 1000.0; };
  return {absl::ToDoubleSeconds(r.elapsed), r.round_trips_per_second(), r.megabytes_per_second(),
          us(0.5), us(0.9), us(0.99), us(0.999), static_cast<double>(r.latency.max()) / 1000.0};
}

}  // namespace

std::string LoadReport::ToText() const {
  const ReportNumbers n = Numbers(*this);
  return absl::StrFormat(
      "connections: %d requested, %d established (peak), %d served\n"
      "round trips: %d in %.2f s = %.0f/s, %.2f MB/s received\n"
      "latency us:  p50 %.1f  p90 %.1f  p99 %.1f  p99.9 %.1f  max %.1f\n"
      "errors:      connect_failures %d  busy %d  timeouts %d  mismatches %d  "
      "server_closed %d  eofs %d  resets %d\n",
      connections_requested, connections_established, connections_served, round_trips, n.seconds,
      n.rtt_per_s, n.mb_per_s, n.p50, n.p90, n.p99, n.p999, n.max, connect_failures, busy,
      timeouts, mismatches, server_closed, eofs, resets);
}

std::string LoadReport::ToJson() const {
  const ReportNumbers n = Numbers(*this);
  return absl::StrFormat(
      "{\"connections\":%d,\"established\":%d,\"served\":%d,\"round_trips\":%d,"
      "\"lines_sent\":%d,\"elapsed_s\":%.3f,\"rtt_per_s\":%.1f,\"mb_per_s\":%.3f,"
      "\"p50_us\":%.1f,\"p90_us\":%.1f,\"p99_us\":%.1f,\"p999_us\":%.1f,\"max_us\":%.1f,"
      "\"connect_failures\":%d,\"busy\":%d,\"timeouts\":%d,\"mismatches\":%d,"
      "\"server_closed\":%d,\"eofs\":%d,\"resets\":%d,\"sessions\":%d}",
      connections_requested, connections_established, connections_served, round_trips,
      lines_sent, n.seconds, n.rtt_per_s, n.mb_per_s, n.p50, n.p90, n.p99, n.p999, n.max,
      connect_failures, busy, timeouts, mismatches, server_closed, eofs, resets, sessions);
}

LoadReport RunLoad(const LoadOptions& options) {
  common::RaiseFdLimitToMax();
  LoadReport total;
  total.connections_requested = options.connections;
  auto address = common::Resolve(options.host, options.port);
  if (!address.ok()) {
    total.connect_failures = options.connections;
    return total;
  }
  Shared shared;
  const int threads = std::max(1, std::min(options.threads, options.connections));
  std::vector<std::unique_ptr<Worker>> workers;
  int next_id = 0;
  for (int t = 0; t < threads; ++t) {
    const int count = options.connections / threads + (t < options.connections % threads ? 1 : 0);
    workers.push_back(std::make_unique<Worker>(options, *address, next_id, count, &shared));
    workers.back()->Seed(static_cast<uint64_t>(t) + 1);
    next_id += count;
  }
  const int64_t start = NowNanos();
  const int64_t end =
      options.duration > absl::ZeroDuration()
          ? start + absl::ToInt64Nanoseconds(options.duration)
          : 0;
  absl::Notification finished;
  std::thread progress;
  if (options.progress) {
    progress = std::thread([&] {
      int64_t last = 0;
      int second = 0;
      while (!finished.WaitForNotificationWithTimeout(absl::Seconds(1))) {
        const int64_t now = shared.round_trips.load(std::memory_order_relaxed);
        std::fprintf(stderr, "\r[%3ds] %8lld rt/s  open %6lld  total %10lld", ++second,
                     static_cast<long long>(now - last),
                     static_cast<long long>(shared.open.load(std::memory_order_relaxed)),
                     static_cast<long long>(now));
        std::fflush(stderr);
        last = now;
      }
      std::fprintf(stderr, "\n");
    });
  }
  std::vector<std::thread> running;
  for (auto& w : workers) {
    Worker* worker = w.get();
    running.emplace_back([worker, start, end] { worker->Run(start, end); });
  }
  for (auto& t : running) t.join();
  total.elapsed = absl::Nanoseconds(NowNanos() - start);
  finished.Notify();
  if (progress.joinable()) progress.join();
  total.all_served_after = absl::ZeroDuration();
  for (auto& w : workers) {
    const LoadReport& r = w->report();
    total.all_served_after = std::max(total.all_served_after, r.all_served_after);
    total.connections_established += r.connections_established;
    total.connections_served += r.connections_served;
    total.round_trips += r.round_trips;
    total.lines_sent += r.lines_sent;
    total.bytes_received += r.bytes_received;
    total.latency.Merge(r.latency);
    total.connect_failures += r.connect_failures;
    total.busy += r.busy;
    total.timeouts += r.timeouts;
    total.mismatches += r.mismatches;
    total.server_closed += r.server_closed;
    total.eofs += r.eofs;
    total.resets += r.resets;
    total.sessions += r.sessions;
  }
  return total;
}

}  // namespace client
