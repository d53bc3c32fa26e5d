#include "client/conversation.h"

#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/protocol.h"
#include "common/socket.h"

namespace client {
namespace {

absl::string_view StripLineEnd(absl::string_view line) {
  if (absl::EndsWith(line, "\n")) line.remove_suffix(1);
  if (absl::EndsWith(line, "\r")) line.remove_suffix(1);
  return line;
}

}  // namespace

Conversation::Conversation(ConversationOptions options, FILE* out, FILE* err)
    : options_(std::move(options)), out_(out), err_(err) {}

int Conversation::Fail(int code, const std::string& why) {
  std::fprintf(err_, "client: %s\n", why.c_str());
  return code;
}

int Conversation::Connect() {
  auto socket = common::Connect(options_.host, options_.port, options_.timeout);
  if (!socket.ok()) {
    return Fail(socket.status().code() == absl::StatusCode::kDeadlineExceeded ? kExitTimeout
                                                                               : kExitError,
                std::string(socket.status().message()));
  }
  socket_ = std::move(*socket);
  welcomed_ = options_.raw;
  if (options_.tls != nullptr) {
    absl::Status nonblocking = common::SetNonBlocking(socket_);
    if (!nonblocking.ok()) return Fail(kExitError, std::string(nonblocking.message()));
    SSL* ssl = options_.tls->NewSsl(options_.host);
    if (ssl == nullptr) return Fail(kExitError, "out of memory for TLS");
    tls_ = std::make_unique<TlsClientStream>(ssl, socket_);
    absl::Status handshake = tls_->Handshake(absl::Now() + options_.timeout);
    if (!handshake.ok()) {
      return Fail(absl::IsDeadlineExceeded(handshake) ? kExitTimeout : kExitError,
                  std::string(handshake.message()));
    }
  }
  return kExitOk;
}

ssize_t Conversation::Send(const std::string& data) {
  if (tls_ != nullptr) {
    const ssize_t n = tls_->Write(data.data(), data.size());
    return n == TlsClientStream::kWouldBlock ? -1 : n == TlsClientStream::kFailed ? -2 : n;
  }
  const ssize_t n = ::send(socket_.get(), data.data(), data.size(), MSG_NOSIGNAL);
  if (n >= 0) return n;
  return errno == EAGAIN || errno == EINTR ? -1 : -2;
}

ssize_t Conversation::Receive(char* buf, size_t size) {
  if (tls_ != nullptr) {
    const ssize_t n = tls_->Read(buf, size);
    return n == TlsClientStream::kWouldBlock ? -1 : n == TlsClientStream::kFailed ? -2 : n;
  }
  const ssize_t n = ::recv(socket_.get(), buf, size, 0);
  if (n >= 0) return n;
  return errno == EAGAIN || errno == EINTR ? -1 : -2;
}

std::string Conversation::LastError() const {
  return tls_ != nullptr ? tls_->error() : std::strerror(errno);
}

int Conversation::RunMessages(const std::vector<std::string>& messages) {
  return Run(&messages, -1);
}

int Conversation::RunStream(int input_fd) { return Run(nullptr, input_fd); }

int Conversation::HandleServerLine(const std::string& line) {
  const absl::string_view text = StripLineEnd(line);
  if (!welcomed_) {
    welcomed_ = true;
    if (absl::StartsWith(text, "busy:")) return Fail(kExitBusy, std::string(text));
    if (common::IsClosingLine(text)) return Fail(kExitError, std::string(text));
    if (!options_.quiet) std::fprintf(out_, "%.*s\n", static_cast<int>(text.size()), text.data());
    std::fflush(out_);
    return kExitOk;
  }
  if (awaiting_.empty() || (!options_.raw && common::IsClosingLine(text) &&
                            line != absl::StrCat(options_.expect_prefix, awaiting_.front()))) {
    // The server spoke on its own: a closing line (idle timeout, shutdown,
    // error), which ends the conversation.
    return Fail(kExitError, std::string(text));
  }
  std::fprintf(out_, "%.*s\n", static_cast<int>(text.size()), text.data());
  std::fflush(out_);
  const std::string expected = absl::StrCat(options_.expect_prefix, awaiting_.front());
  awaiting_.pop_front();
  if (options_.check_replies && line != expected) {
    ++mismatches_;
    return Fail(kExitError, absl::StrCat("unexpected reply: expected \"",
                                         StripLineEnd(expected), "\""));
  }
  return kExitOk;
}

int Conversation::Run(const std::vector<std::string>* messages, int input_fd) {
  if (int rc = Connect(); rc != kExitOk) return rc;

  std::string to_send;        // bytes not yet written to the socket
  std::string from_server;    // bytes received, not yet a complete line
  std::string from_input;     // stdin bytes, not yet a complete line
  size_t next_message = 0;
  bool input_done = messages != nullptr && messages->empty();
  absl::Time deadline = absl::Now() + options_.timeout;
  char buf[16384];

  auto queue_line = [&](absl::string_view line) {
    std::string wire = absl::StrCat(line, "\n");
    to_send += wire;
    awaiting_.push_back(std::move(wire));
  };

  for (;;) {
    // Feed messages from the list once welcomed (the tutorial's client also
    // waits for the welcome before talking).
    if (messages != nullptr && welcomed_) {
      while (next_message < messages->size()) queue_line((*messages)[next_message++]);
      input_done = true;
    }
    const bool waiting_for_server = !welcomed_ || !awaiting_.empty();
    if (input_done && !waiting_for_server && to_send.empty()) {
      // Everything answered. Say goodbye the polite way.
      if (tls_ != nullptr) tls_->Close();
      ::shutdown(socket_.get(), SHUT_WR);
      return mismatches_ > 0 ? kExitError : kExitOk;
    }

    pollfd fds[2];
    int nfds = 0;
    // TLS may need to write before it can read (never in plaintext).
    const bool read_wants_write = tls_ != nullptr && tls_->wants_write();
    const bool want_out = !to_send.empty() || read_wants_write;
    fds[nfds++] = {socket_.get(), static_cast<short>(POLLIN | (want_out ? POLLOUT : 0)), 0};
    // TLS may hold decrypted bytes the socket no longer shows: read them first.
    const bool buffered = tls_ != nullptr && tls_->pending();
    const bool read_input = input_fd >= 0 && !input_done && welcomed_;
    if (read_input) fds[nfds++] = {input_fd, POLLIN, 0};
    // The timeout bounds waiting for the server, not for a person typing.
    const bool waiting = waiting_for_server || !to_send.empty();
    int rc = ::poll(fds, nfds,
                    buffered ? 0
                             : common::PollTimeoutMs(waiting ? deadline : absl::InfiniteFuture()));
    if (rc < 0) {
      if (errno == EINTR) continue;
      return Fail(kExitError, absl::StrCat("poll: ", std::strerror(errno)));
    }
    if (buffered) fds[0].revents |= POLLIN;
    if (rc == 0 && !buffered) {
      return Fail(kExitTimeout, welcomed_ ? "timed out waiting for a reply"
                                          : "timed out waiting for the welcome line");
    }

    if ((fds[0].revents & POLLOUT) && !to_send.empty()) {
      ssize_t n = Send(to_send);
      if (n > 0) {
        to_send.erase(0, static_cast<size_t>(n));
        deadline = absl::Now() + options_.timeout;
      } else if (n == -2) {
        return Fail(kExitError, absl::StrCat("send: ", LastError()));
      }
    }
    if (fds[0].revents & (POLLIN | POLLHUP | POLLERR | (read_wants_write ? POLLOUT : 0))) {
      ssize_t n = Receive(buf, sizeof(buf));
      if (n == -1) continue;
      if (n < 0) return Fail(kExitError, absl::StrCat("recv: ", LastError()));
      if (n == 0) {
        return Fail(kExitError, welcomed_ ? "server closed the connection"
                                          : "server closed the connection before the welcome");
      }
      deadline = absl::Now() + options_.timeout;
      from_server.append(buf, static_cast<size_t>(n));
      size_t start = 0;
      for (;;) {
        // Raw echo has no framing of its own: cut replies at the length of
        // the line awaited; line mode cuts at '\n'.
        size_t end;
        if (options_.raw) {
          if (awaiting_.empty() || from_server.size() - start < awaiting_.front().size()) break;
          end = start + awaiting_.front().size();
        } else {
          size_t nl = from_server.find('\n', start);
          if (nl == std::string::npos) break;
          end = nl + 1;
        }
        if (int code = HandleServerLine(from_server.substr(start, end - start));
            code != kExitOk) {
          return code;
        }
        start = end;
      }
      from_server.erase(0, start);
    }
    if (read_input && (fds[1].revents & (POLLIN | POLLHUP | POLLERR))) {
      ssize_t n = ::read(input_fd, buf, sizeof(buf));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        if (!from_input.empty()) queue_line(from_input);  // last line without '\n'
        from_input.clear();
        input_done = true;
      } else {
        from_input.append(buf, static_cast<size_t>(n));
        size_t nl;
        while ((nl = from_input.find('\n')) != std::string::npos) {
          absl::string_view line(from_input.data(), nl);
          queue_line(line);
          from_input.erase(0, nl + 1);
        }
      }
      if (!awaiting_.empty()) deadline = absl::Now() + options_.timeout;
    }
  }
}

}  // namespace client
