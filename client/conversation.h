#ifndef CLIENT_CONVERSATION_H_
#define CLIENT_CONVERSATION_H_

// Conversation: the client's side of the line protocol, for scripts and
// people alike.
//
// Connects, reads the welcome line (line mode), then sends each message as
// one line and checks each reply. Messages come either from a list (the
// command line) or from a stream (stdin: interactive when it is a terminal).
// Sending and receiving are multiplexed with poll(), so pipelined input is
// not serialized into one round trip per line, and a line the server sends
// on its own (idle timeout, shutdown) is shown as soon as it arrives.
//
// Output contract: the welcome and every reply go to `out`, one per line,
// without the protocol's line terminator; diagnostics go to `err`.
//
// Thread safety: none; one conversation per thread.

#include <cstdio>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "client/tls_client.h"
#include "common/unique_fd.h"

namespace client {

// Process exit codes, part of the client's public interface.
enum ExitCode {
  kExitOk = 0,         // every reply as expected
  kExitError = 1,      // connection or protocol error, or a mismatched reply
  kExitUsage = 2,      // bad command line
  kExitBusy = 3,       // the server answered "busy"
  kExitTimeout = 4,    // connect or a reply took longer than --timeout_ms
};

struct ConversationOptions {
  std::string host = "127.0.0.1";
  int port = 0;
  absl::Duration timeout = absl::Seconds(5);
  bool raw = false;            // no welcome, replies are the bare echo
  bool quiet = false;          // do not print the welcome line
  bool check_replies = true;
  std::string expect_prefix;   // what every reply must start with
  const TlsClientContext* tls = nullptr;  // non-null: speak TLS (outlives the conversation)
};

class Conversation {
 public:
  Conversation(ConversationOptions options, FILE* out, FILE* err);

  // Sends `messages`, one line each. Returns an ExitCode.
  int RunMessages(const std::vector<std::string>& messages);
  // Sends each line read from `input_fd` until EOF. Returns an ExitCode.
  int RunStream(int input_fd);

 private:
  int Run(const std::vector<std::string>* messages, int input_fd);
  int Connect();
  // Handles one complete line from the server; returns an ExitCode.
  int HandleServerLine(const std::string& line);
  int Fail(int code, const std::string& why);
  // One send() or recv(), or TLS's: > 0 bytes, 0 EOF (reads), -1 would
  // block, -2 error (errno or tls_->error() says why).
  ssize_t Send(const std::string& data);
  ssize_t Receive(char* buf, size_t size);
  std::string LastError() const;

  const ConversationOptions options_;
  FILE* const out_;
  FILE* const err_;
  common::UniqueFd socket_;
  std::unique_ptr<TlsClientStream> tls_;  // after socket_: destroyed first
  bool welcomed_ = false;
  std::deque<std::string> awaiting_;  // sent lines whose replies are due
  int mismatches_ = 0;
};

}  // namespace client

#endif  // CLIENT_CONVERSATION_H_
