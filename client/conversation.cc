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
  return kExitOk;
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
      ::shutdown(socket_.get(), SHUT_WR);
      return mismatches_ > 0 ? kExitError : kExitOk;
    }

    pollfd fds[2];
    int nfds = 0;
    fds[nfds++] = {socket_.get(), static_cast<short>(POLLIN | (to_send.empty() ? 0 : POLLOUT)), 0};
    const bool read_input = input_fd >= 0 && !input_done && welcomed_;
    if (read_input) fds[nfds++] = {input_fd, POLLIN, 0};
    // The timeout bounds waiting for the server, not for a person typing.
    const bool waiting = waiting_for_server || !to_send.empty();
    int rc = ::poll(fds, nfds, common::PollTimeoutMs(waiting ? deadline : absl::InfiniteFuture()));
    if (rc < 0) {
      if (errno == EINTR) continue;
      return Fail(kExitError, absl::StrCat("poll: ", std::strerror(errno)));
    }
    if (rc == 0) {
      return Fail(kExitTimeout, welcomed_ ? "timed out waiting for a reply"
                                          : "timed out waiting for the welcome line");
    }

    if (fds[0].revents & POLLOUT) {
      ssize_t n = ::send(socket_.get(), to_send.data(), to_send.size(), MSG_NOSIGNAL);
      if (n > 0) {
        to_send.erase(0, static_cast<size_t>(n));
        deadline = absl::Now() + options_.timeout;
      } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
        return Fail(kExitError, absl::StrCat("send: ", std::strerror(errno)));
      }
    }
    if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t n = ::recv(socket_.get(), buf, sizeof(buf), 0);
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
      if (n < 0) return Fail(kExitError, absl::StrCat("recv: ", std::strerror(errno)));
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
