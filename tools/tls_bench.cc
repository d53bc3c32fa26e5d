// //tools:tls_bench: this server's TLS side by side with Boost.Asio's TLS
// echo example (libboost1.81-doc, example/cpp11/ssl/server.cpp, compiled here
// with the system g++ and OpenSSL), driven by the same load generator.
//
//   bazel run //tools:tls_bench -- --rounds=3 --duration_ms=3000
//
// Both serve the same certificate and key (EC P-256, made by `openssl req` in
// --work_dir; the example's own certificate has expired) and speak plain
// echo over TLS: ours with --framing=raw, so the generator drives both in
// raw mode. Asio's example reads server.pem (key encrypted with the
// passphrase "test") and dh4096.pem from its working directory: both are
// put in --work_dir (dh4096.pem copied from the example).
//
// Cells, each with a fresh server: ping-pong at each --connections (server
// CPU per round trip); connect mode at --connect_connections, full
// handshakes and then resumed ones (--tls_resume: the generator offers its
// first session's ticket), giving handshakes/s and server CPU per
// handshake; idle: --idle clients each make one round trip and stay, and
// the server's RSS growth over a one-client run, divided by the clients, is
// the memory per idle TLS connection. With --pin (default) the server runs
// on the last allowed CPU and the generator on the first. Each cell runs
// --rounds times, servers alternating first; the table shows medians.
//
// Output: Markdown on stdout; progress on stderr. Exit 1 if a server could
// not be measured or a reply mismatched.

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "client/tls_client.h"
#include "common/process_init.h"
#include "common/subprocess.h"
#include "gflags/gflags.h"
#include "tools/bench_runner.h"

DEFINE_int64(duration_ms, 3000, "Load duration per cell and round.");
DEFINE_int32(rounds, 3, "Measurements per cell and server; the table shows medians.");
DEFINE_string(connections, "16,256", "Ping-pong concurrency levels.");
DEFINE_int32(connect_connections, 16, "Concurrency of the handshake-rate cells.");
DEFINE_int32(idle, 1000, "Idle TLS clients for the memory cell.");
DEFINE_int32(payload_bytes, 64, "Bytes per line, newline included.");
DEFINE_bool(pin, true, "Server on the last allowed CPU, the generator on the first.");
DEFINE_string(cxx, "/usr/bin/g++", "C++ compiler that builds Asio's example.");
DEFINE_string(asio_dir, "/usr/share/doc/libboost1.81-doc/examples/libs/asio/example/cpp11/ssl",
              "Boost.Asio's TLS example (libboost1.81-doc): server.cpp and dh4096.pem.");
DEFINE_string(work_dir, "/tmp/tls_bench", "Certificates and the built example go here.");

namespace {

bool Run(const std::string& binary, const std::vector<std::string>& args) {
  common::Subprocess p(binary, args);
  const std::optional<int> code = p.Wait(absl::Minutes(5));
  if (code != 0) std::fprintf(stderr, "error: %s failed:\n%s", binary.c_str(), p.Stderr().c_str());
  return code == 0;
}

// Certificates for both servers and Asio's example built; false on error.
bool Prepare(const std::string& dir) {
  std::filesystem::create_directories(dir);
  const std::string openssl = "/usr/bin/openssl";
  return Run(openssl, {"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                       "-nodes", "-days", "7", "-subj", "/CN=localhost", "-addext",
                       "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", dir + "/key.pem",
                       "-out", dir + "/cert.pem"}) &&
         Run(openssl, {"pkey", "-in", dir + "/key.pem", "-aes256", "-passout", "pass:test", "-out",
                       dir + "/key.enc.pem"}) &&
         Run("/bin/sh", {"-c", absl::StrCat("cat '", dir, "/cert.pem' '", dir,
                                            "/key.enc.pem' > '", dir, "/server.pem' && cp '",
                                            FLAGS_asio_dir, "/dh4096.pem' '", dir, "/'")}) &&
         Run(FLAGS_cxx, {"-O2", "-std=c++17", "-o", dir + "/asio_tls_server",
                         FLAGS_asio_dir + "/server.cpp", "-lssl", "-lcrypto", "-pthread"});
}

struct Cell {
  std::string name;
  client::LoadOptions load;
};

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  common::InitProcess("TLS side by side with Boost.Asio: bazel run //tools:tls_bench", &argc,
                      &argv);
  auto levels = tools::ParseIntList("--connections", FLAGS_connections);
  if (!levels.ok()) {
    std::fprintf(stderr, "error: %s\n", std::string(levels.status().message()).c_str());
    return common::kExitUsage;
  }
  const std::string dir = FLAGS_work_dir;
  if (!Prepare(dir)) return 1;
  int server_cpu = -1;
  if (FLAGS_pin) {
    const std::vector<int> cpus = tools::AllowedCpus();
    if (cpus.size() >= 2) {
      server_cpu = cpus.back();
      (void)tools::PinThisProcess(cpus.front());
    }
  }
  auto tls = client::TlsClientContext::Create({dir + "/cert.pem", false, "", ""});
  if (!tls.ok()) {
    std::fprintf(stderr, "error: %s\n", std::string(tls.status().message()).c_str());
    return 1;
  }
  std::vector<tools::ServerSpec> servers = {
      {"asio", {"/bin/sh", "-c", absl::StrCat("cd '", dir, "' && exec ./asio_tls_server {port}")},
       true, server_cpu},
      {"ours", {tools::ServerBinary(), "--port=0", "--port_file={port_file}", "--framing=raw",
                "--stats_interval_ms=0", "--tls_cert=" + dir + "/cert.pem",
                "--tls_key=" + dir + "/key.pem"},
       true, server_cpu},
  };

  std::vector<Cell> cells;
  auto base = [&](client::LoadOptions::Mode mode, int connections) {
    client::LoadOptions o;
    o.mode = mode;
    o.connections = connections;
    o.duration = absl::Milliseconds(FLAGS_duration_ms);
    o.payload_bytes = FLAGS_payload_bytes;
    o.tls = tls->get();
    return o;
  };
  for (int n : *levels) {
    cells.push_back({absl::StrCat("ping-pong x", n), base(client::LoadOptions::Mode::kPingPong, n)});
  }
  cells.push_back({absl::StrCat("full handshakes x", FLAGS_connect_connections),
                   base(client::LoadOptions::Mode::kConnect, FLAGS_connect_connections)});
  Cell resumed{absl::StrCat("resumed handshakes x", FLAGS_connect_connections),
               base(client::LoadOptions::Mode::kConnect, FLAGS_connect_connections)};
  resumed.load.tls_resume = true;
  cells.push_back(resumed);
  Cell idle_one{"idle x1", base(client::LoadOptions::Mode::kIdle, 1)};
  idle_one.load.duration = absl::Seconds(2);
  cells.push_back(idle_one);
  Cell idle_many{absl::StrCat("idle x", FLAGS_idle), base(client::LoadOptions::Mode::kIdle,
                                                           FLAGS_idle)};
  idle_many.load.duration = absl::Seconds(4);
  cells.push_back(idle_many);

  // [server][cell] -> per-round (ops/s, server CPU us per op, peak RSS).
  std::map<std::pair<int, int>, std::vector<tools::CellResult>> results;
  bool bad = false;
  for (int round = 0; round < FLAGS_rounds; ++round) {
    for (size_t c = 0; c < cells.size(); ++c) {
      for (size_t k = 0; k < servers.size(); ++k) {
        const size_t s = (round + k) % servers.size();
        auto r = tools::RunCell(servers[s], cells[c].load);
        if (!r.ok()) {
          std::fprintf(stderr, "error: %s, %s: %s\n", servers[s].name.c_str(),
                       cells[c].name.c_str(), std::string(r.status().message()).c_str());
          bad = true;
          continue;
        }
        if (r->load.mismatches > 0) bad = true;
        std::fprintf(stderr, "round %d, %s, %s: %.0f ops/s, %.2f us server CPU/op, %s RSS\n",
                     round + 1, cells[c].name.c_str(), servers[s].name.c_str(),
                     r->load.round_trips_per_second(), r->ServerCpuMicrosPerRoundTrip(),
                     tools::FormatMiB(r->peak_rss_bytes).c_str());
        results[{static_cast<int>(s), static_cast<int>(c)}].push_back(*r);
      }
    }
  }

  std::printf("| cell | server | ops/s | server CPU us/op | vs asio | peak RSS |\n");
  std::printf("| --- | --- | ---: | ---: | ---: | ---: |\n");
  std::map<std::pair<int, int>, double> cpu;
  for (size_t c = 0; c < cells.size(); ++c) {
    for (size_t s = 0; s < servers.size(); ++s) {
      std::vector<double> ops, us, rss;
      for (const auto& r : results[{static_cast<int>(s), static_cast<int>(c)}]) {
        ops.push_back(r.load.round_trips_per_second());
        us.push_back(r.ServerCpuMicrosPerRoundTrip());
        rss.push_back(static_cast<double>(r.peak_rss_bytes));
      }
      cpu[{static_cast<int>(s), static_cast<int>(c)}] = Median(us);
      const double asio = cpu[{0, static_cast<int>(c)}];
      std::printf("| %s | %s | %.0f | %.2f | %s | %s |\n", cells[c].name.c_str(),
                  servers[s].name.c_str(), Median(ops), Median(us),
                  asio > 0 ? absl::StrFormat("%.2fx", Median(us) / asio).c_str() : "-",
                  tools::FormatMiB(static_cast<int64_t>(Median(rss))).c_str());
    }
  }
  const int one = static_cast<int>(cells.size()) - 2;
  const int many = static_cast<int>(cells.size()) - 1;
  for (size_t s = 0; s < servers.size(); ++s) {
    std::vector<double> one_rss, many_rss;
    for (const auto& r : results[{static_cast<int>(s), one}]) {
      one_rss.push_back(static_cast<double>(r.peak_rss_bytes));
    }
    for (const auto& r : results[{static_cast<int>(s), many}]) {
      many_rss.push_back(static_cast<double>(r.peak_rss_bytes));
    }
    std::printf("\n%s: %.1f KiB of server RSS per idle TLS connection (after one round trip)",
                servers[s].name.c_str(),
                (Median(many_rss) - Median(one_rss)) / 1024.0 / std::max(1, FLAGS_idle - 1));
  }
  std::printf("\n");
  return bad ? 1 : 0;
}
