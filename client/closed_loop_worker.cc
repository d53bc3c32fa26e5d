#include "client/closed_loop_worker.h"

#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>

#include "absl/strings/str_cat.h"
#include "common/protocol.h"

namespace client {

int64_t ClosedLoopNowNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

bool ClosedLoopWorker::TakeRequest() {
  if (options_.requests <= 0) return true;
  return shared_->issued.fetch_add(1, std::memory_order_relaxed) < options_.requests;
}

void ClosedLoopWorker::Watch(Conn& c, bool writable) {
  epoll_event ev{};
  ev.events = EPOLLIN | (writable ? static_cast<uint32_t>(EPOLLOUT) : 0u);
  ev.data.ptr = &c;
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, c.fd.get(), &ev);
  c.want_write = writable;
}

void ClosedLoopWorker::Connect(Conn& c, int64_t now) {
  auto fd = common::StartConnect(address_);
  if (!fd.ok()) {
    ++report_.connect_failures;
    c.state = State::kDead;
    return;
  }
  c.fd = std::move(*fd);
  if (c.connected_before) ++report_.reconnects;
  c.connected_before = true;
  c.state = State::kConnecting;
  c.started = now;
  c.deadline = now + absl::ToInt64Nanoseconds(options_.timeout);
  c.line.clear();
  // In line mode the welcome itself says the connect succeeded, so wait for
  // input straight away: no writability round, no SO_ERROR query, no
  // re-registration (a third fewer system calls per new connection). Raw
  // echo has no welcome and must wait for the connect to complete.
  // TLS must know the connect completed before its ClientHello.
  const bool wait_writable = options_.raw || options_.tls != nullptr;
  epoll_event ev{};
  ev.events = wait_writable ? EPOLLOUT : EPOLLIN;
  ev.data.ptr = &c;
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, c.fd.get(), &ev);
  c.want_write = wait_writable;
  ++connecting_;
}

void ClosedLoopWorker::Kill(Conn& c, int64_t* counter) {
  if (counter != nullptr) ++*counter;
  // The server ended the session with a closing line: come back, if asked to.
  const bool reconnect = options_.reconnect && !shared_->stop.load(std::memory_order_relaxed) &&
                         (counter == &report_.server_closed || counter == &report_.busy);
  if (c.state == State::kConnecting) --connecting_;
  if (c.state == State::kWelcome || c.state == State::kAwaiting || c.state == State::kHolding) {
    --open_now_;
    shared_->live->open.fetch_sub(1, std::memory_order_relaxed);
  }
  if (c.tls != nullptr) {
    // close_notify: a session freed without it could not be resumed.
    if (c.state != State::kConnecting) c.tls->Close();
    c.tls.reset();
  }
  c.fd.Reset();  // closing also removes it from the epoll set
  c.state = reconnect ? State::kIdle : State::kDead;
}

void ClosedLoopWorker::SendNext(Conn& c, int64_t now) {
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

void ClosedLoopWorker::Flush(Conn& c) {
  while (c.out_pos < c.out.size()) {
    ssize_t n = 0;
    if (c.tls != nullptr) {
      n = c.tls->Write(c.out.data() + c.out_pos, c.out.size() - c.out_pos);
      errno = n == TlsClientStream::kWouldBlock ? EAGAIN : EPIPE;
    } else {
      n = ::send(c.fd.get(), c.out.data() + c.out_pos, c.out.size() - c.out_pos, MSG_NOSIGNAL);
    }
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

bool ClosedLoopWorker::Handshake(Conn& c) {
  if (c.tls == nullptr) {
    SSL* ssl = options_.tls->NewSsl(options_.host);
    if (ssl != nullptr && session_ != nullptr) SSL_set_session(ssl, session_);
    if (ssl != nullptr) {
      c.tls = std::make_unique<TlsClientStream>(ssl, c.fd);
      (void)common::SetNoDelay(c.fd);  // a flight's records leave together
    }
    if (c.tls == nullptr) {
      Kill(c, &report_.connect_failures);
      return false;
    }
  }
  const ssize_t step = c.tls->HandshakeStep();
  if (step == TlsClientStream::kWouldBlock) {
    Watch(c, c.tls->wants_write());
    return false;
  }
  if (step != TlsClientStream::kDone) {
    Kill(c, &report_.connect_failures);
    return false;
  }
  ++(SSL_session_reused(c.tls->ssl()) ? report_.tls_resumed_handshakes
                                      : report_.tls_full_handshakes);
  return true;
}

void ClosedLoopWorker::OnConnected(Conn& c, uint32_t events, int64_t now) {
  const bool connect_done = options_.tls == nullptr || c.tls == nullptr;
  if (connect_done && (options_.raw || options_.tls != nullptr || (events & EPOLLERR)) &&
      !common::ConnectResult(c.fd).ok()) {
    --connecting_;
    c.fd.Reset();
    ++report_.connect_failures;
    c.state = State::kDead;
    return;
  }
  if (options_.tls != nullptr && !Handshake(c)) return;  // in progress, or killed
  --connecting_;
  ++open_now_;
  ++report_.sessions;
  shared_->live->open.fetch_add(1, std::memory_order_relaxed);
  report_.connections_established = std::max(report_.connections_established, open_now_);
  if (options_.raw) {
    Watch(c, false);
    c.state = State::kAwaiting;
    const uint64_t seq = c.seq;
    SendNext(c, now);
    // Stopping (a TLS handshake can finish after the stop): nothing was
    // sent, so no reply is due.
    if (c.seq == seq) Kill(c, nullptr);
  } else {
    c.state = State::kWelcome;
    if (c.tls != nullptr) Watch(c, false);
    OnReadable(c, now);  // the event that completed the connect was input
  }
}

void ClosedLoopWorker::OnReadable(Conn& c, int64_t now) {
  // TLS may hold decrypted bytes that epoll cannot report: read them too.
  do {
    ReadOnce(c, now);
  } while (c.tls != nullptr && c.tls->pending());
}

void ClosedLoopWorker::ReadOnce(Conn& c, int64_t now) {
  ssize_t n = 0;
  if (c.tls != nullptr) {
    n = c.tls->Read(buf_, sizeof(buf_));
    if (n == TlsClientStream::kWouldBlock) return;
  } else {
    n = ::recv(c.fd.get(), buf_, sizeof(buf_), 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  }
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
  shared_->live->round_trips.fetch_add(1, std::memory_order_relaxed);
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

bool ClosedLoopWorker::Connected(const Conn& c) {
  // Line mode waits for the welcome without checking the connect, so only
  // the peer address tells a completed connect from one still pending.
  sockaddr_storage peer{};
  socklen_t length = sizeof(peer);
  return ::getpeername(c.fd.get(), reinterpret_cast<sockaddr*>(&peer), &length) == 0;
}

void ClosedLoopWorker::MarkServed(Conn& c, int64_t now) {
  if (options_.tls_resume && session_ == nullptr && c.tls != nullptr) {
    // The server's ticket came before the welcome or the first reply.
    session_ = SSL_get1_session(c.tls->ssl());
  }
  if (c.served) return;
  c.served = true;
  if (++report_.connections_served == static_cast<int64_t>(conns_.size())) {
    report_.all_served_after = absl::Nanoseconds(now - start_);
  }
}

void ClosedLoopWorker::OnEvent(Conn& c, uint32_t events, int64_t now) {
  if (c.state == State::kConnecting) {
    if (events & (EPOLLIN | EPOLLOUT | EPOLLERR | EPOLLHUP)) OnConnected(c, events, now);
    return;
  }
  if ((events & EPOLLOUT) && c.state == State::kAwaiting) Flush(c);
  if (c.state == State::kDead || !c.fd.valid()) return;
  if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) OnReadable(c, now);
}

void ClosedLoopWorker::Run(int64_t start_nanos, int64_t end_nanos) {
  start_ = start_nanos;
  constexpr int kMaxEvents = 256;
  epoll_event events[kMaxEvents];
  int64_t last_sweep = ClosedLoopNowNanos();
  for (;;) {
    int64_t now = ClosedLoopNowNanos();
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
    now = ClosedLoopNowNanos();
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
          const bool silent = c.state == State::kWelcome ||
                              (c.state == State::kConnecting && !options_.raw && Connected(c));
          if (silent) {
            // Connected, but no welcome: a raw server waiting for a line,
            // not a failed connect.
            ++report_.welcome_timeouts;
            Kill(c, &report_.timeouts);
          } else {
            Kill(c, c.state == State::kConnecting ? &report_.connect_failures
                                                  : &report_.timeouts);
          }
        }
      }
    }
  }
  for (Conn& c : conns_) {
    if (c.fd.valid()) Kill(c, nullptr);
  }
}

}  // namespace client
