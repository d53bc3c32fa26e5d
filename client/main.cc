// The client binary: talk to the server from a terminal or a script.
//
//   client [--host=H] [--port=P | --port_file=F] [--timeout_ms=T] [--raw]
//          [--quiet] [--expect_prefix=S] [MESSAGE ...]
//
// Prints the welcome line, sends each MESSAGE as a line and prints each
// reply; with no MESSAGE it sends the lines of stdin until EOF. Exit codes:
// 0 ok, 1 error or mismatch, 2 usage, 3 server busy, 4 timeout.

#include <unistd.h>

#include <cstdint>

#include <cstdio>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "client/conversation.h"
#include "client/load_generator.h"
#include "common/port_file.h"
#include "common/process_init.h"
#include "common/protocol.h"
#include "gflags/gflags.h"

DEFINE_string(host, "127.0.0.1", "Server address.");
DEFINE_int32(port, common::kDefaultPort, "Server port.");
DEFINE_string(port_file, "",
              "Read the port from this file (as written by the server's --port_file); waits up "
              "to --timeout_ms for it to appear.");
DEFINE_int64(timeout_ms, 5000, "Limit for connecting and for each reply; exit 4 when exceeded.");
DEFINE_bool(raw, false, "Raw echo (server --framing=raw): no welcome line, no reply prefix.");
DEFINE_bool(quiet, false, "Do not print the welcome line.");
DEFINE_string(expect_prefix, std::string(common::kDefaultReplyPrefix),
              "Every reply must be this prefix followed by the line sent.");
DEFINE_bool(check, true, "Check replies (--nocheck just prints them).");

DEFINE_bool(load, false, "Run as a load generator instead of a conversation.");
DEFINE_string(load_mode, "pingpong",
              "'pingpong' (send a line, await the reply, repeat), 'connect' (connect, welcome, "
              "one line, close, repeat) or 'idle' (connect, welcome, stay silent).");
DEFINE_int32(connections, 16, "Concurrent connections.");
DEFINE_int64(duration_ms, 0, "Run this long (or use --requests).");
DEFINE_int64(requests, 0, "Stop after this many round trips in total (or use --duration_ms).");
DEFINE_int32(payload_bytes, 64, "Bytes per line sent, newline included (min 16).");
DEFINE_int32(load_threads, 1, "Event-loop threads of the generator.");
DEFINE_double(disconnect_probability, 0,
              "After each verified reply, close and reconnect with this probability.");
DEFINE_bool(reconnect, false,
            "When the server ends a session with a closing line (bye, busy), connect again.");
DEFINE_bool(json, false, "Print the report as one JSON object.");
DEFINE_bool(progress, isatty(STDERR_FILENO) != 0,
            "Show a progress line on stderr once a second (default: when stderr is a tty).");

namespace {

// Resolves --port / --port_file. Returns 0 and sets `port`, or an exit code.
int ResolvePort(int* port) {
  *port = FLAGS_port;
  if (FLAGS_port_file.empty()) return client::kExitOk;
  auto found = common::WaitForPortFile(
      FLAGS_port_file, absl::Now() + absl::Milliseconds(FLAGS_timeout_ms), [] { return true; });
  if (!found.ok()) {
    std::fprintf(stderr, "client: %s\n", std::string(found.status().message()).c_str());
    return client::kExitTimeout;
  }
  *port = *found;
  return client::kExitOk;
}

// --load: runs the generator from the load flags and prints the report.
// Exit code 1 on any mismatched reply or if nothing completed.
int RunLoad(const std::string& host, int port, bool raw, absl::Duration timeout) {
  client::LoadOptions options;
  options.host = host;
  options.port = port;
  options.raw = raw;
  options.timeout = timeout;
  if (FLAGS_load_mode == "pingpong") {
    options.mode = client::LoadOptions::Mode::kPingPong;
  } else if (FLAGS_load_mode == "connect") {
    options.mode = client::LoadOptions::Mode::kConnect;
  } else if (FLAGS_load_mode == "idle") {
    options.mode = client::LoadOptions::Mode::kIdle;
  } else {
    std::fprintf(stderr, "error: --load_mode must be 'pingpong', 'connect' or 'idle'\n");
    return client::kExitUsage;
  }
  if (FLAGS_connections < 1 || FLAGS_load_threads < 1 || FLAGS_payload_bytes < 16 ||
      FLAGS_duration_ms < 0 || FLAGS_requests < 0 ||
      (FLAGS_duration_ms == 0) == (FLAGS_requests == 0) || FLAGS_disconnect_probability < 0 ||
      FLAGS_disconnect_probability > 1) {
    std::fprintf(stderr,
                 "error: --load needs --connections>=1, --payload_bytes>=16, "
                 "--disconnect_probability in [0, 1] and exactly one of --duration_ms or "
                 "--requests\n");
    return client::kExitUsage;
  }
  options.connections = FLAGS_connections;
  options.duration = absl::Milliseconds(FLAGS_duration_ms);
  options.requests = FLAGS_requests;
  options.payload_bytes = FLAGS_payload_bytes;
  options.threads = FLAGS_load_threads;
  options.progress = FLAGS_progress;
  options.disconnect_probability = FLAGS_disconnect_probability;
  options.reconnect = FLAGS_reconnect;
  client::LoadReport report = client::RunLoad(options);
  if (FLAGS_json) {
    std::printf("%s\n", report.ToJson().c_str());
  } else {
    std::printf("%s", report.ToText().c_str());
  }
  std::fflush(stdout);
  if (report.mismatches > 0) return client::kExitError;
  if (options.mode == client::LoadOptions::Mode::kIdle) {
    return report.connections_served == options.connections ? client::kExitOk
                                                             : client::kExitError;
  }
  return report.round_trips > 0 ? client::kExitOk : client::kExitError;
}

}  // namespace

int main(int argc, char** argv) {
  common::InitProcess(
      "Client for the echo server.\n"
      "Usage: client [--host=H] [--port=P | --port_file=F] [--timeout_ms=T] [--raw] [--quiet]\n"
      "              [--expect_prefix=S] [MESSAGE ...]\n"
      "       client --load --connections=N (--duration_ms=D | --requests=K) [--payload_bytes=B]\n"
      "Sends each MESSAGE (or each stdin line) and prints the replies.\n"
      "Exit codes: 0 ok, 1 error or mismatch, 2 usage, 3 server busy, 4 timeout.",
      &argc, &argv);
  if (FLAGS_timeout_ms <= 0) {
    std::fprintf(stderr, "error: --timeout_ms must be positive\n");
    return client::kExitUsage;
  }
  int port = 0;
  if (int rc = ResolvePort(&port); rc != client::kExitOk) return rc;

  if (FLAGS_load) {
    if (argc > 1) {
      std::fprintf(stderr, "error: --load takes no messages\n");
      return client::kExitUsage;
    }
    return RunLoad(FLAGS_host, port, FLAGS_raw, absl::Milliseconds(FLAGS_timeout_ms));
  }

  client::ConversationOptions options;
  options.host = FLAGS_host;
  options.port = port;
  options.timeout = absl::Milliseconds(FLAGS_timeout_ms);
  options.raw = FLAGS_raw;
  options.quiet = FLAGS_quiet;
  options.check_replies = FLAGS_check;
  options.expect_prefix = FLAGS_raw ? "" : FLAGS_expect_prefix;
  client::Conversation conversation(options, stdout, stderr);
  if (argc > 1) {
    std::vector<std::string> messages(argv + 1, argv + argc);
    for (const std::string& m : messages) {
      if (m.find('\n') != std::string::npos) {
        std::fprintf(stderr, "error: a MESSAGE must not contain a newline\n");
        return client::kExitUsage;
      }
    }
    return conversation.RunMessages(messages);
  }
  return conversation.RunStream(STDIN_FILENO);
}
