// The client binary: talk to the server from a terminal or a script.
//
//   client [--host=H] [--port=P | --port_file=F] [--timeout_ms=T] [--raw]
//          [--quiet] [--expect_prefix=S] [MESSAGE ...]
//
// Prints the welcome line, sends each MESSAGE as a line and prints each
// reply; with no MESSAGE it sends the lines of stdin until EOF. Exit codes:
// 0 ok, 1 error or mismatch, 2 usage, 3 server busy, 4 timeout.

#include <unistd.h>

#include <signal.h>

#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "client/conversation.h"
#include "client/load_generator.h"
#include "client/open_loop.h"
#include "client/port_source.h"
#include "client/source_ips.h"
#include "client/tls_client.h"
#include "common/process_init.h"
#include "common/protocol.h"
#include "gflags/gflags.h"

DEFINE_string(host, "127.0.0.1", "Server address.");
DEFINE_int32(port, common::kDefaultPort, "Server port (1-65535).");
DEFINE_string(port_file, "",
              "Read the port from this file (as written by the server's --port_file; relative "
              "to the directory `bazel run` was started in); waits up to --timeout_ms for it to "
              "appear. Not together with --port.");
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

// Open-loop load (client/open_loop.h) and the histogram file.
DEFINE_double(rate, 0,
              "Open loop: this many round trips per second in total, spread evenly over the "
              "connections, each on its own schedule; latency is then measured from when each "
              "line was due (corrected for coordinated omission) and, as service time, from the "
              "actual send. 0 = closed loop. Needs --duration_ms.");
DEFINE_string(arrival, "uniform",
              "With --rate: 'uniform' (equal gaps) or 'poisson' (exponential gaps).");
DEFINE_int32(max_in_flight, 1,
             "With --rate: unanswered lines per connection before it waits (1 = lock-step; more "
             "pipelines, so a late reply does not delay the next send).");
DEFINE_int64(warmup_ms, 0,
             "With --rate: run this long first and leave it out of the figures (the "
             "--duration_ms measured follow it).");
DEFINE_double(connect_rate, 0,
              "With --rate: open at most this many connections per second (0 = all at once).");
DEFINE_string(source_ips, "",
              "With --rate: bind connections round-robin to these local IPv4 addresses "
              "(e.g. 127.0.0.2-127.0.0.9, or a comma list), with IP_BIND_ADDRESS_NO_PORT, "
              "when one address's ephemeral ports run out.");
DEFINE_int64(spin_us, 50,
             "With --rate: wake this long before each due line and busy-poll the rest (more "
             "lowers the send lag where idle CPUs wake slowly, e.g. VMs, at more CPU).");
DEFINE_string(histogram_out, "",
              "With --load: write the latency histogram (the headline one) to this file in "
              "HdrHistogram's percentile-distribution format, in milliseconds.");

DEFINE_bool(tls, false,
            "Speak TLS; verify the server's certificate and its name or address (--host).");
DEFINE_string(tls_ca, "", "With --tls: PEM file of the CAs to trust (default: the system's).");
DEFINE_bool(tls_insecure, false, "With --tls: do not verify the server (as curl -k).");
DEFINE_string(tls_cert, "", "With --tls: client certificate (PEM) for mutual TLS; needs --tls_key.");
DEFINE_string(tls_key, "", "With --tls: the private key (PEM) of --tls_cert.");
DEFINE_bool(tls_resume, false,
            "--load with --tls: resume each thread's first TLS session (tickets) on every new "
            "connection, so --load_mode=connect measures resumed handshakes.");

namespace {

// Ctrl-C during --load ends the run and prints the report so far; a second
// one kills the process as usual (SA_RESETHAND).
std::atomic<bool> interrupted{false};

void OnInterrupt(int) { interrupted.store(true); }

// Validates the open-loop flags into `options`; false after printing why.
bool OpenLoopOptions(client::LoadOptions* options) {
  const bool open = FLAGS_rate != 0;
  auto fail = [](const std::string& why) {
    std::fprintf(stderr, "error: %s\n", why.c_str());
    return false;
  };
  if (FLAGS_rate < 0 || !std::isfinite(FLAGS_rate)) return fail("--rate must be >= 0");
  if (FLAGS_arrival != "uniform" && FLAGS_arrival != "poisson") {
    return fail("--arrival must be 'uniform' or 'poisson'");
  }
  if (FLAGS_max_in_flight < 1) return fail("--max_in_flight must be >= 1");
  if (open && FLAGS_tls) return fail("--rate does not speak TLS yet: drop --rate for --tls");
  if (FLAGS_warmup_ms < 0) return fail("--warmup_ms must be >= 0");
  if (FLAGS_spin_us < 0 || FLAGS_spin_us > 1000000) return fail("--spin_us must be in [0, 1e6]");
  if (FLAGS_connect_rate < 0 || !std::isfinite(FLAGS_connect_rate)) {
    return fail("--connect_rate must be >= 0");
  }
  const bool open_only = FLAGS_arrival != "uniform" || FLAGS_max_in_flight != 1 ||
                         FLAGS_warmup_ms != 0 || FLAGS_connect_rate != 0 || FLAGS_spin_us != 50 ||
                         !FLAGS_source_ips.empty();
  if (!open && open_only) {
    return fail("--arrival, --max_in_flight, --warmup_ms, --connect_rate, --spin_us and "
                "--source_ips need --rate");
  }
  if (!open) return true;
  if (options->mode != client::LoadOptions::Mode::kPingPong || FLAGS_requests != 0 ||
      FLAGS_disconnect_probability != 0) {
    return fail("--rate needs --load_mode=pingpong and --duration_ms (not --requests or "
                "--disconnect_probability)");
  }
  if (!FLAGS_source_ips.empty()) {
    auto ips = client::ParseSourceIps(FLAGS_source_ips);
    if (!ips.ok()) return fail(absl::StrCat("--source_ips: ", ips.status().message()));
    options->source_ips = *std::move(ips);
  }
  options->rate = FLAGS_rate;
  options->poisson = FLAGS_arrival == "poisson";
  options->max_in_flight = FLAGS_max_in_flight;
  options->warmup = absl::Milliseconds(FLAGS_warmup_ms);
  options->connect_rate = FLAGS_connect_rate;
  options->spin = absl::Microseconds(FLAGS_spin_us);
  return true;
}


// --tls and its companions: the context, null without --tls, or an exit
// code (2) after printing why.
int MakeTlsContext(std::unique_ptr<client::TlsClientContext>* out) {
  const bool companions = !FLAGS_tls_ca.empty() || FLAGS_tls_insecure || !FLAGS_tls_cert.empty() ||
                          !FLAGS_tls_key.empty() || FLAGS_tls_resume;
  if (!FLAGS_tls) {
    if (!companions) return client::kExitOk;
    std::fprintf(stderr,
                 "error: --tls_ca, --tls_insecure, --tls_cert, --tls_key and --tls_resume need "
                 "--tls\n");
    return client::kExitUsage;
  }
  client::TlsClientOptions o;
  o.ca_file = FLAGS_tls_ca;
  o.insecure = FLAGS_tls_insecure;
  o.cert_file = FLAGS_tls_cert;
  o.key_file = FLAGS_tls_key;
  auto tls = client::TlsClientContext::Create(o);
  if (!tls.ok()) {
    std::fprintf(stderr, "error: %s\n", std::string(tls.status().message()).c_str());
    return client::kExitUsage;
  }
  *out = std::move(*tls);
  return client::kExitOk;
}

// Resolves --port / --port_file (client/port_source.h). Returns 0 and sets
// `port`, or an exit code: 2 for a bad flag, 1 for a bad port file, 4 if it
// never appeared.
int ResolvePort(int* port) {
  const bool port_given = !gflags::GetCommandLineFlagInfoOrDie("port").is_default;
  absl::Status flags = client::CheckPortFlags(FLAGS_port, port_given, FLAGS_port_file);
  if (!flags.ok()) {
    std::fprintf(stderr, "error: %s\n", std::string(flags.message()).c_str());
    return client::kExitUsage;
  }
  *port = FLAGS_port;
  if (FLAGS_port_file.empty()) return client::kExitOk;
  auto found = client::ReadPortFile(
      client::ResolvePortFilePath(FLAGS_port_file, std::getenv("BUILD_WORKING_DIRECTORY")),
      absl::Now() + absl::Milliseconds(FLAGS_timeout_ms));
  if (!found.ok()) {
    std::fprintf(stderr, "client: %s\n", std::string(found.status().message()).c_str());
    return absl::IsDeadlineExceeded(found.status()) ? client::kExitTimeout : client::kExitError;
  }
  *port = *found;
  return client::kExitOk;
}

// --load: runs the generator from the load flags and prints the report.
// Exit code 1 on any mismatched reply or if nothing completed.
int RunLoad(const std::string& host, int port, bool raw, absl::Duration timeout,
            const client::TlsClientContext* tls) {
  client::LoadOptions options;
  options.tls = tls;
  options.tls_resume = FLAGS_tls_resume;
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
  if (!OpenLoopOptions(&options)) return client::kExitUsage;
  // Opened before the run, so a bad path fails at once rather than after it.
  std::ofstream histogram_out;
  if (!FLAGS_histogram_out.empty()) {
    histogram_out.open(FLAGS_histogram_out);
    if (!histogram_out.is_open()) {
      std::fprintf(stderr, "error: --histogram_out: cannot write %s\n",
                   FLAGS_histogram_out.c_str());
      return client::kExitUsage;
    }
  }
  options.stop = &interrupted;
  struct sigaction on_interrupt {};
  on_interrupt.sa_handler = OnInterrupt;
  on_interrupt.sa_flags = SA_RESETHAND;
  ::sigaction(SIGINT, &on_interrupt, nullptr);
  client::LoadReport report =
      options.rate > 0 ? client::RunOpenLoop(options) : client::RunLoad(options);
  if (histogram_out.is_open()) {
    histogram_out << report.latency.PercentileDistribution(1e6);
    histogram_out.close();
    if (!histogram_out.good()) {
      std::fprintf(stderr, "error: cannot write %s\n", FLAGS_histogram_out.c_str());
      return client::kExitError;
    }
  }
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
      "              [--tls [--tls_ca=PEM | --tls_insecure] [--tls_cert=PEM --tls_key=PEM]]\n"
      "              [--expect_prefix=S] [MESSAGE ...]\n"
      "       client --load --connections=N (--duration_ms=D | --requests=K) [--payload_bytes=B]\n"
      "       client --load --rate=R --duration_ms=D [--arrival=uniform|poisson]\n"
      "              [--max_in_flight=K] [--warmup_ms=W] [--connect_rate=C] [--source_ips=A-B]\n"
      "              [--spin_us=S] [--histogram_out=FILE]   (open loop; Ctrl-C: report so far)\n"
      "Sends each MESSAGE (or each stdin line) and prints the replies.\n"
      "Exit codes: 0 ok, 1 error or mismatch, 2 usage, 3 server busy, 4 timeout.",
      &argc, &argv);
  if (FLAGS_timeout_ms <= 0) {
    std::fprintf(stderr, "error: --timeout_ms must be positive\n");
    return client::kExitUsage;
  }
  int port = 0;
  if (int rc = ResolvePort(&port); rc != client::kExitOk) return rc;
  std::unique_ptr<client::TlsClientContext> tls;
  if (int rc = MakeTlsContext(&tls); rc != client::kExitOk) return rc;

  if (FLAGS_load) {
    if (argc > 1) {
      std::fprintf(stderr, "error: --load takes no messages\n");
      return client::kExitUsage;
    }
    return RunLoad(FLAGS_host, port, FLAGS_raw, absl::Milliseconds(FLAGS_timeout_ms), tls.get());
  }

  client::ConversationOptions options;
  options.host = FLAGS_host;
  options.port = port;
  options.timeout = absl::Milliseconds(FLAGS_timeout_ms);
  options.raw = FLAGS_raw;
  options.quiet = FLAGS_quiet;
  options.check_replies = FLAGS_check;
  options.expect_prefix = FLAGS_raw ? "" : FLAGS_expect_prefix;
  options.tls = tls.get();
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
