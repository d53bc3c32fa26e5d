#include "client/open_loop_worker.h"

#include <errno.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "client/source_ips.h"
#include "common/protocol.h"
#include "common/socket.h"
#include "common/unique_fd.h"

namespace client {
namespace {

// Timeouts are checked this often.
constexpr int64_t kSweepNanos = 50 * 1000 * 1000;

double ThreadCpuSeconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

}  // namespace

OpenLoopWorker::OpenLoopWorker(const LoadOptions& options, const common::SocketAddress& address,
                               int first_id, int count)
    : options_(options),
      address_(address),
      epoll_(::epoll_create1(EPOLL_CLOEXEC)),
      timer_(::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC)),
      expected_prefix_(options.raw ? "" : options.expect_prefix),
      line_bytes_(static_cast<size_t>(std::max(options.payload_bytes, 16))),
      interval_(static_cast<double>(options.connections) * 1e9 / options.rate),
      spin_nanos_(absl::ToInt64Nanoseconds(options.spin)) {
  conns_.resize(static_cast<size_t>(count));
  for (int i = 0; i < count; ++i) conns_[i].id = first_id + i;
  rng_ ^= static_cast<uint64_t>(first_id + 1) * 0xbf58476d1ce4e5b9ull;
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = nullptr;  // the timer
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, timer_.get(), &ev);
}

int64_t OpenLoopWorker::Now() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void OpenLoopWorker::Watch(Conn& c, bool writable) {
  epoll_event ev{};
  ev.events = EPOLLIN | (writable ? static_cast<uint32_t>(EPOLLOUT) : 0u);
  ev.data.ptr = &c;
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, c.fd.get(), &ev);
  c.want_write = writable;
}

void OpenLoopWorker::ArmTimer(int64_t at) {
  if (at == armed_at_) return;
  armed_at_ = at;
  itimerspec spec{};
  spec.it_value.tv_sec = at / 1000000000;
  spec.it_value.tv_nsec = at % 1000000000;
  ::timerfd_settime(timer_.get(), TFD_TIMER_ABSTIME, &spec, nullptr);
}

void OpenLoopWorker::Connect(Conn& c, int64_t now) {
  absl::StatusOr<common::UniqueFd> fd =
      options_.source_ips.empty()
          ? common::StartConnect(address_)
          : StartConnectFrom(address_,
                             options_.source_ips[static_cast<size_t>(c.id) %
                                                 options_.source_ips.size()]);
  if (!fd.ok()) {
    ++report_.connect_failures;
    c.state = State::kDead;
    return;
  }
  c.fd = std::move(*fd);
  c.state = State::kConnecting;
  c.deadline = now + absl::ToInt64Nanoseconds(options_.timeout);
  epoll_event ev{};
  ev.events = options_.raw ? EPOLLOUT : EPOLLIN;  // line mode: the welcome says it connected
  ev.data.ptr = &c;
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, c.fd.get(), &ev);
  c.want_write = options_.raw;
  ++connecting_;
}

// The connection is ready: its schedule starts at a random phase.
void OpenLoopWorker::Start(Conn& c, int64_t now) {
  c.state = State::kRunning;
  c.lines = std::make_unique<PipelinedLines>(c.id, line_bytes_, expected_prefix_);
  ++report_.connections_served;
  c.next_due = now + static_cast<int64_t>(Random01() * interval_);
  if (options_.poisson) c.next_due = now + Gap();
  c.free_since = now;
  Schedule(c);
}

void OpenLoopWorker::SendLine(Conn& c, int64_t now) {
  const int64_t due = c.next_due;
  c.next_due += Gap();
  if (due >= counted_from_) {
    report_.send_lag.Record(now - std::max(due, c.free_since));
  }
  c.lines->Add(due, now);
  ++report_.lines_sent;
  Flush(c);
}

void OpenLoopWorker::SendDue(int64_t now) {
  while (!due_.empty() && due_.top().first <= now) {
    Conn& c = *due_.top().second;
    due_.pop();
    c.scheduled = false;
    if (c.state != State::kRunning || stopping_) continue;
    if (static_cast<int>(c.in_flight()) >= options_.max_in_flight) continue;
    SendLine(c, now);
    if (c.state != State::kRunning) continue;
    if (static_cast<int>(c.in_flight()) < options_.max_in_flight) Schedule(c);
  }
}

void OpenLoopWorker::Flush(Conn& c) {
  for (absl::string_view out = c.lines->Unwritten(); !out.empty(); out = c.lines->Unwritten()) {
    ssize_t n = ::send(c.fd.get(), out.data(), out.size(), MSG_NOSIGNAL);
    if (n > 0) {
      c.lines->Written(static_cast<size_t>(n));
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
  if (c.want_write) Watch(c, false);
}

void OpenLoopWorker::Kill(Conn& c, int64_t* counter) {
  if (counter != nullptr) ++*counter;
  if (c.state == State::kConnecting) --connecting_;
  if (c.state == State::kWelcome || c.state == State::kRunning) --open_now_;
  c.fd.Reset();  // closing also removes it from the epoll set
  c.lines.reset();
  c.state = State::kDead;
}

void OpenLoopWorker::OnReply(const PipelinedLines::Flight& f, int64_t now) {
  if (now >= counted_from_ && !stopping_) ++report_.replies_in_window;
  if (f.due < counted_from_) return;  // warm-up
  report_.latency.Record(now - f.due);
  report_.service_latency.Record(now - f.sent);
  ++report_.round_trips;
}

void OpenLoopWorker::OnEvent(Conn& c, uint32_t events, int64_t now) {
  if (c.state == State::kConnecting) {
    --connecting_;
    if ((options_.raw || (events & EPOLLERR)) && !common::ConnectResult(c.fd).ok()) {
      c.fd.Reset();
      ++report_.connect_failures;
      c.state = State::kDead;
      return;
    }
    ++open_now_;
    ++report_.sessions;
    report_.connections_established = std::max(report_.connections_established, open_now_);
    if (options_.raw) {
      Watch(c, false);
      Start(c, now);
      return;
    }
    c.state = State::kWelcome;
  }
  if ((events & EPOLLOUT) && c.state == State::kRunning) Flush(c);
  if (c.state == State::kDead) return;
  if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) OnReadable(c, now);
}

void OpenLoopWorker::OnReadable(Conn& c, int64_t now) {
  ssize_t n = ::recv(c.fd.get(), buf_, sizeof(buf_), 0);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (n <= 0) {
    Kill(c, n == 0 ? &report_.eofs : &report_.resets);
    return;
  }
  absl::string_view data(buf_, static_cast<size_t>(n));
  if (c.state == State::kWelcome) {
    const size_t nl = data.find('\n');
    c.welcome.append(data.data(), nl == absl::string_view::npos ? data.size() : nl + 1);
    if (nl == absl::string_view::npos) return;
    if (common::IsClosingLine(c.welcome)) {  // in place of the welcome
      Kill(c, c.welcome.rfind("busy:", 0) == 0 ? &report_.busy : &report_.server_closed);
      return;
    }
    if (nl + 1 != data.size()) {  // only a closing line may follow unasked
      Kill(c, common::MayBeClosingLine(data.substr(nl + 1)) ? &report_.server_closed
                                                             : &report_.mismatches);
      return;
    }
    Start(c, now);
    return;
  }
  if (c.state != State::kRunning) return;
  size_t matched = 0;
  const PipelinedLines::Check check =
      c.lines->Receive(data, &matched, [&](const PipelinedLines::Flight& f) { OnReply(f, now); });
  report_.bytes_received += static_cast<int64_t>(matched);
  if (check == PipelinedLines::Check::kMismatch) {
    // A closing line in place of a reply is the server ending the session.
    Kill(c, common::MayBeClosingLine(data) ? &report_.server_closed : &report_.mismatches);
    return;
  }
  if (check == PipelinedLines::Check::kUnasked) {  // only a closing line may follow replies
    Kill(c, common::MayBeClosingLine(data.substr(matched)) ? &report_.server_closed
                                                           : &report_.mismatches);
    return;
  }
  if (!stopping_ && static_cast<int>(c.in_flight()) < options_.max_in_flight &&
      !c.scheduled) {
    c.free_since = now;
    Schedule(c);
  }
}

void OpenLoopWorker::Sweep(int64_t now) {
  for (Conn& c : conns_) {
    if (c.state == State::kConnecting || c.state == State::kWelcome) {
      if (stopping_) {
        Kill(c, nullptr);
      } else if (now >= c.deadline) {
        Kill(c, c.state == State::kConnecting ? &report_.connect_failures : &report_.timeouts);
      }
    } else if (c.state == State::kRunning && c.in_flight() > 0 &&
               now - c.lines->oldest().sent >= absl::ToInt64Nanoseconds(options_.timeout)) {
      Kill(c, &report_.timeouts);
    }
  }
}

void OpenLoopWorker::Run(int64_t start, int64_t counted_from, int64_t end) {
  counted_from_ = counted_from;
  // Timer expirations are otherwise deferred by up to the default 50 us of
  // timer slack, the whole of the busy-poll window.
  ::prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
  const double cpu_at_start = ThreadCpuSeconds();
  for (Conn& c : conns_) {
    c.connect_at = start + (options_.connect_rate > 0
                                ? static_cast<int64_t>(c.id * 1e9 / options_.connect_rate)
                                : 0);
  }
  size_t next_connect = 0;
  constexpr int kMaxEvents = 256;
  epoll_event events[kMaxEvents];
  int64_t last_sweep = start;
  int64_t drain_until = 0;
  int64_t spin_nanos = 0;
  for (;;) {
    const int64_t now = Now();
    const bool all_gone = next_connect == conns_.size() && connecting_ == 0 && open_now_ == 0;
    if (!stopping_ && (now >= end || all_gone ||
                       (options_.stop != nullptr && options_.stop->load()))) {
      stopping_ = true;
      stopped_at_ = std::min(now, end);
      drain_until = now + std::min(absl::ToInt64Nanoseconds(options_.timeout),
                                   int64_t{1000} * 1000 * 1000);
      for (Conn& c : conns_) {
        if (c.state != State::kRunning) continue;
        const int64_t first = std::max(c.next_due, counted_from_);
        if (first < stopped_at_) {
          report_.lines_not_sent +=
              1 + static_cast<int64_t>(static_cast<double>(stopped_at_ - first) / interval_);
        }
      }
      Sweep(now);  // drops connections still connecting or awaiting a welcome
    }
    if (stopping_) {
      bool owed = false;
      for (const Conn& c : conns_) owed |= c.state == State::kRunning && c.in_flight() > 0;
      if (!owed || now >= drain_until) break;
    }
    while (!stopping_ && next_connect < conns_.size() &&
           conns_[next_connect].connect_at <= now && connecting_ < options_.max_connecting) {
      Connect(conns_[next_connect++], now);
    }
    const int64_t sent_before = report_.lines_sent;
    SendDue(now);

    int64_t wake = stopping_ ? drain_until : end;
    if (!stopping_ && !due_.empty()) wake = std::min(wake, due_.top().first);
    if (!stopping_ && next_connect < conns_.size() && connecting_ < options_.max_connecting) {
      wake = std::min(wake, conns_[next_connect].connect_at);
    }
    wake = std::min(wake, last_sweep + kSweepNanos);
    int timeout_ms = 0;
    if (wake - now > spin_nanos_) {
      ArmTimer(wake - spin_nanos_);
      timeout_ms = -1;
    }
    const int n = ::epoll_wait(epoll_.get(), events, kMaxEvents, timeout_ms);
    const int64_t after = Now();
    if (n <= 0 && timeout_ms == 0 && report_.lines_sent == sent_before) {
      spin_nanos += after - now;  // polled with nothing to do
    }
    for (int i = 0; i < n; ++i) {
      if (events[i].data.ptr == nullptr) {
        uint64_t expirations;
        (void)!::read(timer_.get(), &expirations, sizeof(expirations));
        armed_at_ = -1;
        continue;
      }
      OnEvent(*static_cast<Conn*>(events[i].data.ptr), events[i].events, after);
    }
    if (after - last_sweep >= kSweepNanos) {
      last_sweep = after;
      Sweep(after);
    }
  }
  for (Conn& c : conns_) {
    if (c.fd.valid()) Kill(c, nullptr);
  }
  report_.generator_cpu_s = ThreadCpuSeconds() - cpu_at_start;
  report_.generator_spin_s = static_cast<double>(spin_nanos) / 1e9;
}

}  // namespace client
